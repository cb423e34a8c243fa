//! The npm registry data plane at `/d/{domain}/npm/{repository}/`.
//!
//! Speaks what npm 11 sends (verified against npm's own publish and install traffic, see
//! PROTOCOLS.md §2): packuments full and abbreviated, tarballs, `PUT` publish with a base64
//! attachment, dist-tags, `whoami` and `ping`. Package versions live in the same index as
//! every other format, so ListPackageVersions and friends see them as CodeArtifact does
//! (namespace = scope without `@`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use super::AppState;
use super::access::{self, Permission, Principal, iso8601};
use super::error::DataError;
use super::store::{self, AssetRow, PackageKey, VersionRow};
use crate::ecosystem::npm::{
    ABBREVIATED_MEDIA_TYPE, PackageName, abbreviate_manifest, integrity_from_sha512_hex,
};

/// What a path under the npm endpoint addresses.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Ping,
    Whoami,
    DistTags {
        package: String,
        tag: Option<String>,
    },
    Tarball {
        package: String,
        file: String,
    },
    Packument {
        package: String,
    },
    Unsupported(String),
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn parse_target(rest: &str) -> Target {
    let rest = rest.trim_end_matches('/');
    match rest {
        "-/ping" => return Target::Ping,
        "-/whoami" => return Target::Whoami,
        _ => {}
    }
    if let Some(tail) = rest.strip_prefix("-/package/") {
        let decoded = decode(tail);
        if let Some((package, tag)) = decoded.split_once("/dist-tags") {
            let tag = tag.trim_start_matches('/');
            return Target::DistTags {
                package: package.to_owned(),
                tag: (!tag.is_empty()).then(|| tag.to_owned()),
            };
        }
        return Target::Unsupported(rest.to_owned());
    }
    if rest.starts_with("-/") {
        return Target::Unsupported(rest.to_owned());
    }
    let decoded = decode(rest);
    if let Some((package, file)) = decoded.split_once("/-/") {
        return Target::Tarball {
            package: package.to_owned(),
            file: file.to_owned(),
        };
    }
    if decoded.contains("/-rev/") {
        return Target::Unsupported(rest.to_owned());
    }
    Target::Packument { package: decoded }
}

/// Entry point for `/d/{domain}/npm/{repository}/{*rest}`.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    // /d/{domain}/npm/{repository}/{rest}
    let mut segments = path.splitn(6, '/');
    let (_, _, domain, _, repository, rest) = (
        segments.next(),
        segments.next(),
        segments.next().unwrap_or_default(),
        segments.next(),
        segments.next().unwrap_or_default(),
        segments.next().unwrap_or_default(),
    );
    let (domain, repository) = (decode(domain), decode(repository));
    let body = match axum::body::to_bytes(body, state.max_body_bytes).await {
        Ok(body) => body,
        Err(error) => {
            return DataError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("failed to read the request body: {error}"),
            )
            .into_response();
        }
    };
    let target = parse_target(rest);
    let request = NpmRequest {
        state: &state,
        domain,
        repository,
        headers: &parts.headers,
    };
    let result = request.serve(&parts.method, target, body).await;
    result.unwrap_or_else(|error| {
        tracing::debug!(status = %error.status, message = %error.message, %path, "npm request refused");
        error.into_response()
    })
}

struct NpmRequest<'a> {
    state: &'a AppState,
    domain: String,
    repository: String,
    headers: &'a HeaderMap,
}

impl NpmRequest<'_> {
    async fn serve(
        &self,
        method: &Method,
        target: Target,
        body: Bytes,
    ) -> Result<Response, DataError> {
        if matches!(target, Target::Ping) {
            return Ok(axum::Json(json!({})).into_response());
        }
        let principal = access::authenticate_token(self.state, self.headers, &self.domain).await?;
        self.require_repository().await?;
        let principal = principal.as_ref();
        match (method.as_str(), target) {
            ("GET", Target::Whoami) => {
                access::require(principal, &self.domain, &self.repository, Permission::Read)?;
                Ok(axum::Json(
                    json!({ "username": principal.map(|principal| principal.name.clone()) }),
                )
                .into_response())
            }
            ("GET" | "HEAD", Target::Packument { package }) => {
                access::require(principal, &self.domain, &self.repository, Permission::Read)?;
                self.packument(&package).await
            }
            ("PUT", Target::Packument { package }) => {
                access::require(
                    principal,
                    &self.domain,
                    &self.repository,
                    Permission::Publish,
                )?;
                self.publish(&package, &body, principal).await
            }
            ("GET" | "HEAD", Target::Tarball { package, file }) => {
                access::require(principal, &self.domain, &self.repository, Permission::Read)?;
                self.tarball(&package, &file).await
            }
            ("GET", Target::DistTags { package, tag: None }) => {
                access::require(principal, &self.domain, &self.repository, Permission::Read)?;
                let key = self.key(&parse_name(&package)?);
                let tags = self
                    .state
                    .store
                    .with(move |connection| -> Result<_, DataError> {
                        Ok(store::dist_tags(connection, &key)?)
                    })
                    .await?;
                let object: Map<String, Value> = tags
                    .into_iter()
                    .map(|(tag, version)| (tag, Value::String(version)))
                    .collect();
                Ok(axum::Json(Value::Object(object)).into_response())
            }
            (
                "PUT" | "POST",
                Target::DistTags {
                    package,
                    tag: Some(tag),
                },
            ) => {
                access::require(
                    principal,
                    &self.domain,
                    &self.repository,
                    Permission::Publish,
                )?;
                let version: String = serde_json::from_slice(&body).map_err(|_| {
                    DataError::bad_request("the body must be a JSON string naming a version")
                })?;
                self.set_tag(&package, &tag, Some(version)).await
            }
            (
                "DELETE",
                Target::DistTags {
                    package,
                    tag: Some(tag),
                },
            ) => {
                access::require(
                    principal,
                    &self.domain,
                    &self.repository,
                    Permission::Publish,
                )?;
                if tag == "latest" {
                    return Err(DataError::bad_request("the `latest` tag cannot be removed"));
                }
                self.set_tag(&package, &tag, None).await
            }
            (_, Target::Unsupported(path)) => Err(DataError::not_found(format!(
                "`{path}` is not supported by lading serve's npm registry"
            ))),
            (method, _) => Err(DataError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not supported here"),
            )),
        }
    }

    async fn require_repository(&self) -> Result<(), DataError> {
        let (domain, repository) = (self.domain.clone(), self.repository.clone());
        let exists = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                Ok(store::repository(connection, &domain, &repository)?.is_some())
            })
            .await?;
        if exists {
            Ok(())
        } else {
            Err(DataError::not_found(format!(
                "repository `{}/{}` does not exist",
                self.domain, self.repository
            )))
        }
    }

    fn key(&self, name: &PackageName) -> PackageKey {
        PackageKey {
            domain: self.domain.clone(),
            repository: self.repository.clone(),
            format: "npm".to_owned(),
            namespace: name.scope.clone().unwrap_or_default(),
            package: name.name.clone(),
        }
    }

    fn tarball_url(&self, name: &PackageName, version: &str) -> String {
        format!(
            "{}{name}/-/{}",
            self.state
                .repository_endpoint(self.headers, &self.domain, "npm", &self.repository),
            name.tarball_file_name(version)
        )
    }

    async fn packument(&self, package: &str) -> Result<Response, DataError> {
        let name = parse_name(package)?;
        let key = self.key(&name);
        let (versions, tags) = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let versions: Vec<(VersionRow, Vec<AssetRow>)> = store::versions(connection, &key)?
                    .into_iter()
                    .filter(|row| row.status == "Published")
                    .map(|row| {
                        let assets = store::assets(connection, row.id)?;
                        Ok((row, assets))
                    })
                    .collect::<Result<_, rusqlite::Error>>()?;
                Ok((versions, store::dist_tags(connection, &key)?))
            })
            .await?;
        if versions.is_empty() {
            return Err(DataError::not_found(format!(
                "package `{name}` not found in `{}/{}`",
                self.domain, self.repository
            )));
        }
        let abbreviated = self
            .headers
            .get(axum::http::header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains(ABBREVIATED_MEDIA_TYPE));
        let mut version_map = Map::new();
        let mut times = BTreeMap::new();
        let mut modified = 0.0_f64;
        let mut created = f64::MAX;
        for (row, assets) in &versions {
            let mut manifest: Value = row
                .metadata
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_else(|| json!({}));
            let file = name.tarball_file_name(&row.version);
            if let Some(asset) = assets.iter().find(|asset| asset.name == file) {
                manifest["dist"] = json!({
                    "tarball": self.tarball_url(&name, &row.version),
                    "shasum": asset.digests.sha1,
                    "integrity": integrity_from_sha512_hex(&asset.digests.sha512),
                });
            }
            manifest["name"] = json!(name.to_string());
            manifest["version"] = json!(row.version);
            let manifest = if abbreviated {
                abbreviate_manifest(&manifest)
            } else {
                manifest
            };
            version_map.insert(row.version.clone(), manifest);
            times.insert(row.version.clone(), iso8601(row.published));
            modified = modified.max(row.published);
            created = created.min(row.published);
        }
        let mut dist_tags: Map<String, Value> = tags
            .into_iter()
            .map(|(tag, version)| (tag, Value::String(version)))
            .collect();
        if !dist_tags.contains_key("latest")
            && let Some((row, _)) = versions.last()
        {
            dist_tags.insert("latest".to_owned(), Value::String(row.version.clone()));
        }
        let body = if abbreviated {
            json!({ "name": name.to_string(), "modified": iso8601(modified), "dist-tags": dist_tags, "versions": version_map })
        } else {
            let mut time: Map<String, Value> = times
                .into_iter()
                .map(|(version, when)| (version, Value::String(when)))
                .collect();
            time.insert("created".to_owned(), json!(iso8601(created)));
            time.insert("modified".to_owned(), json!(iso8601(modified)));
            let latest_manifest = dist_tags
                .get("latest")
                .and_then(Value::as_str)
                .and_then(|latest| version_map.get(latest))
                .cloned()
                .unwrap_or(Value::Null);
            let mut body = json!({ "_id": name.to_string(), "name": name.to_string(), "dist-tags": dist_tags, "versions": version_map, "time": time });
            for field in [
                "description",
                "readme",
                "license",
                "homepage",
                "repository",
                "keywords",
            ] {
                if let Some(value) = latest_manifest.get(field) {
                    body[field] = value.clone();
                }
            }
            body
        };
        let mut response = axum::Json(body).into_response();
        if abbreviated {
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static(ABBREVIATED_MEDIA_TYPE),
            );
        }
        Ok(response)
    }

    async fn tarball(&self, package: &str, file: &str) -> Result<Response, DataError> {
        let name = parse_name(package)?;
        let key = self.key(&name);
        let file_name = file.rsplit('/').next().unwrap_or(file).to_owned();
        let lookup = file_name.clone();
        let found = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                Ok(store::find_asset(connection, &key, &lookup)?)
            })
            .await?;
        let Some((row, asset)) = found.filter(|(row, _)| row.status == "Published") else {
            return Err(DataError::not_found(format!(
                "tarball `{file_name}` of `{name}` not found"
            )));
        };
        let bytes = self
            .state
            .store
            .read_blob(asset.digests.sha256.clone())
            .await?;
        let mut response = (StatusCode::OK, bytes).into_response();
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if let Ok(value) = HeaderValue::from_str(&row.version) {
            response.headers_mut().insert("x-package-version", value);
        }
        Ok(response)
    }

    async fn set_tag(
        &self,
        package: &str,
        tag: &str,
        version: Option<String>,
    ) -> Result<Response, DataError> {
        let name = parse_name(package)?;
        let key = self.key(&name);
        let tag_name = tag.to_owned();
        let outcome = self
            .state
            .store
            .with(
                move |connection| -> Result<Result<Vec<(String, String)>, String>, DataError> {
                    let transaction = store::write_transaction(connection)?;
                    if let Some(version) = &version
                        && store::version(&transaction, &key, version)?
                            .is_none_or(|row| row.status != "Published")
                    {
                        return Ok(Err(format!("version `{version}` is not published")));
                    }
                    store::set_dist_tag(&transaction, &key, &tag_name, version.as_deref())?;
                    let tags = store::dist_tags(&transaction, &key)?;
                    transaction.commit()?;
                    Ok(Ok(tags))
                },
            )
            .await?;
        let tags = outcome.map_err(DataError::not_found)?;
        let object: Map<String, Value> = tags
            .into_iter()
            .map(|(tag, version)| (tag, Value::String(version)))
            .collect();
        Ok((StatusCode::CREATED, axum::Json(Value::Object(object))).into_response())
    }

    async fn publish(
        &self,
        package: &str,
        body: &[u8],
        principal: Option<&Principal>,
    ) -> Result<Response, DataError> {
        let name = parse_name(package)?;
        let document: Value = serde_json::from_slice(body).map_err(|error| {
            DataError::bad_request(format!("the publish body is not valid JSON: {error}"))
        })?;
        if document.get("name").and_then(Value::as_str) != Some(name.to_string().as_str()) {
            return Err(DataError::bad_request(format!(
                "the body's `name` does not match the URL's package `{name}`"
            )));
        }
        let versions = document
            .get("versions")
            .and_then(Value::as_object)
            .filter(|versions| !versions.is_empty());
        let attachments = document.get("_attachments").and_then(Value::as_object);
        let (Some(versions), Some(attachments)) = (versions, attachments) else {
            return Err(DataError::bad_request(
                "a publish needs `versions` and `_attachments`; unpublish and deprecate are not supported",
            ));
        };
        let tags: Vec<(String, String)> = document
            .get("dist-tags")
            .and_then(Value::as_object)
            .map(|tags| {
                tags.iter()
                    .filter_map(|(tag, version)| {
                        version
                            .as_str()
                            .map(|version| (tag.clone(), version.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut staged = Vec::new();
        for (version, manifest) in versions {
            let file = name.tarball_file_name(version);
            let attachment = attachments
                .get(&format!("{name}-{version}.tgz"))
                .or_else(|| attachments.get(&file))
                .or_else(|| {
                    (attachments.len() == 1 && versions.len() == 1)
                        .then(|| attachments.values().next())
                        .flatten()
                })
                .ok_or_else(|| {
                    DataError::bad_request(format!("no attachment for version `{version}`"))
                })?;
            let data = attachment
                .get("data")
                .and_then(Value::as_str)
                .ok_or_else(|| DataError::bad_request("attachment without `data`"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|_| DataError::bad_request("attachment `data` is not base64"))?;
            if let Some(length) = attachment.get("length").and_then(Value::as_u64)
                && length != bytes.len() as u64
            {
                return Err(DataError::bad_request(format!(
                    "attachment length {} does not match the declared {length}",
                    bytes.len()
                )));
            }
            let size = bytes.len() as u64;
            let digests = self.state.store.put_blob(Bytes::from(bytes)).await?;
            let dist = manifest.get("dist");
            if let Some(claimed) = dist
                .and_then(|dist| dist.get("integrity"))
                .and_then(Value::as_str)
                && claimed.starts_with("sha512-")
                && Some(claimed) != integrity_from_sha512_hex(&digests.sha512).as_deref()
            {
                return Err(DataError::bad_request(format!(
                    "the tarball does not match `dist.integrity` {claimed}"
                )));
            }
            if let Some(claimed) = dist
                .and_then(|dist| dist.get("shasum"))
                .and_then(Value::as_str)
                && !claimed.eq_ignore_ascii_case(&digests.sha1)
            {
                return Err(DataError::bad_request(format!(
                    "the tarball's sha1 {} does not match `dist.shasum` {claimed}",
                    digests.sha1
                )));
            }
            let mut manifest = manifest.clone();
            if let Some(object) = manifest.as_object_mut() {
                object.remove("_attachments");
                object.insert(
                    "_npmUser".to_owned(),
                    json!({ "name": principal.map(|principal| principal.name.clone()) }),
                );
            }
            staged.push((
                version.clone(),
                manifest,
                AssetRow {
                    name: file,
                    size,
                    digests,
                },
            ));
        }
        let key = self.key(&name);
        let now = self.state.clock.now();
        let display = name.to_string();
        let outcome = self
            .state
            .store
            .with(move |connection| -> Result<Result<(), String>, DataError> {
                let transaction = store::write_transaction(connection)?;
                for (version, _, _) in &staged {
                    if store::version(&transaction, &key, version)?.is_some() {
                        return Ok(Err(format!("cannot publish over the previously published version {display}@{version}")));
                    }
                }
                for (version, manifest, asset) in &staged {
                    let row = VersionRow {
                        id: 0,
                        version: version.clone(),
                        revision: super::control::new_revision(),
                        status: "Published".to_owned(),
                        published: now,
                        metadata: Some(manifest.to_string()),
                    };
                    let id = store::insert_version(&transaction, &key, &row)?;
                    store::insert_asset(&transaction, id, asset)?;
                }
                for (tag, version) in &tags {
                    store::set_dist_tag(&transaction, &key, tag, Some(version))?;
                }
                if store::dist_tags(&transaction, &key)?.iter().all(|(tag, _)| tag != "latest")
                    && let Some((version, _, _)) = staged.last()
                {
                    store::set_dist_tag(&transaction, &key, "latest", Some(version))?;
                }
                transaction.commit()?;
                Ok(Ok(()))
            })
            .await?;
        outcome.map_err(|message| DataError::new(StatusCode::CONFLICT, message))?;
        tracing::info!(package = %name, "npm publish");
        Ok((
            StatusCode::CREATED,
            axum::Json(json!({ "ok": true, "id": name.to_string(), "success": true })),
        )
            .into_response())
    }
}

fn parse_name(package: &str) -> Result<PackageName, DataError> {
    PackageName::parse(package).map_err(|error| DataError::bad_request(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_parsed_from_raw_paths() {
        assert_eq!(parse_target("-/ping"), Target::Ping);
        assert_eq!(parse_target("-/whoami"), Target::Whoami);
        assert_eq!(
            parse_target("left-pad"),
            Target::Packument {
                package: "left-pad".into()
            }
        );
        assert_eq!(
            parse_target("@acme%2ftool"),
            Target::Packument {
                package: "@acme/tool".into()
            }
        );
        assert_eq!(
            parse_target("@acme%2Ftool"),
            Target::Packument {
                package: "@acme/tool".into()
            }
        );
        assert_eq!(
            parse_target("@acme/tool/-/tool-1.0.0.tgz"),
            Target::Tarball {
                package: "@acme/tool".into(),
                file: "tool-1.0.0.tgz".into()
            }
        );
        assert_eq!(
            parse_target("-/package/@acme%2ftool/dist-tags"),
            Target::DistTags {
                package: "@acme/tool".into(),
                tag: None
            }
        );
        assert_eq!(
            parse_target("-/package/a/dist-tags/beta"),
            Target::DistTags {
                package: "a".into(),
                tag: Some("beta".into())
            }
        );
        assert!(matches!(
            parse_target("-/npm/v1/security/advisories/bulk"),
            Target::Unsupported(_)
        ));
    }
}
