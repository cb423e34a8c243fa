//! The npm registry data plane at `/d/{domain}/npm/{repository}/`.
//!
//! Speaks what npm 11 sends (verified against npm's own publish and install traffic, see
//! PROTOCOLS.md §2): packuments full and abbreviated, tarballs, `PUT` publish with a base64
//! attachment, dist-tags, `whoami` and `ping`. Package versions live in the same index as
//! every other format, so ListPackageVersions and friends see them as CodeArtifact does
//! (namespace = scope without `@`).

pub mod publish;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::ecosystem::npm::{
    ABBREVIATED_MEDIA_TYPE, PackageName, abbreviate_manifest, integrity_from_sha512_hex,
};
use crate::server::AppState;
use crate::server::access::{self, Permission, Principal, iso8601};
use crate::server::cache::{Document, DocumentKey};
use crate::server::data_plane::{DataPlane, DataRequest, Handling, data_request};
use crate::server::decode_segment as decode;
use crate::server::error::DataError;
use crate::server::packages;
use crate::server::pull_through::{self, UpstreamAdapter, UpstreamReader};
use crate::server::store::{self, AssetRow, PackageKey, VersionRow};
use crate::server::upstream::{add_notes, with_notes};

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

/// The npm data plane, as `lading serve` mounts it.
#[derive(Debug)]
pub struct NpmDataPlane;

impl DataPlane for NpmDataPlane {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Npm
    }

    fn handle(&self, state: Arc<AppState>, request: Request) -> Handling {
        Box::pin(handle(State(state), request))
    }
}

/// Entry point for `/d/{domain}/npm/{repository}/{*rest}`.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    // /d/{domain}/npm/{repository}/{rest}
    let (domain, repository, rest) = crate::server::split_data_path(&path);
    let target = parse_target(rest);
    let request = NpmRequest {
        request: DataRequest::new(&state, &parts.headers, domain, repository),
    };
    let result = request.serve(&parts.method, target, body).await;
    result.unwrap_or_else(|error| {
        tracing::debug!(status = %error.status, message = %error.message, %path, "npm request refused");
        error.into_response()
    })
}

data_request! {
    struct NpmRequest {}
}

impl NpmRequest<'_> {
    async fn serve(
        &self,
        method: &Method,
        target: Target,
        body: axum::body::Body,
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
                self.publish(&package, body, principal).await
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
                let limits = self.state.limits;
                let body =
                    crate::server::ingest::read_small(body, limits.max_metadata_bytes, limits)
                        .await?;
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
            (method, _) => Err(DataError::method_not_allowed(method)),
        }
    }

    fn key(&self, name: &PackageName) -> PackageKey {
        self.package_key(
            crate::format::Format::Npm,
            name.scope.clone().unwrap_or_default(),
            name.name.clone(),
        )
    }

    fn tarball_url(&self, name: &PackageName, version: &str) -> String {
        format!(
            "{}{name}/-/{}",
            self.state.repository_endpoint(
                self.headers,
                &self.domain,
                crate::format::Format::Npm,
                &self.repository
            ),
            name.tarball_file_name(version)
        )
    }

    /// Every version this repository can serve for `name`: its own, its upstream
    /// repositories' (depth-first, in order), then its external connections', unless origin
    /// controls block upstreams. Also the dist-tags and any upstream trouble to report.
    async fn view(&self, name: &PackageName) -> Result<View, DataError> {
        let key = self.key(name);
        let lookup = key.clone();
        let reader = access::reader(self.state, self.headers, &self.domain).await?;
        let (upstream_blocked, mut versions, tags, externals) = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let sources = packages::read_sources(connection, &lookup, reader.as_ref())?;
                let mut versions: Vec<Candidate> = Vec::new();
                for (repository, row) in sources.held_versions(connection, &lookup)? {
                    if row.status != "Published" || versions.iter().any(|candidate| candidate.version == row.version) {
                        continue;
                    }
                    let assets = store::assets(connection, row.id)?;
                    let manifest: Value = row.metadata.as_deref().and_then(|text| serde_json::from_str(text).ok()).unwrap_or_else(|| json!({}));
                    let dist = assets.iter().find(|asset| asset.name.to_ascii_lowercase().ends_with(".tgz")).map(|asset| {
                        json!({ "shasum": asset.digests.sha1, "integrity": integrity_from_sha512_hex(&asset.digests.sha512) })
                    });
                    versions.push(Candidate { version: row.version.clone(), manifest, dist, published: row.published, source: Source::Repository(repository) });
                }
                Ok((sources.upstream_blocked, versions, store::dist_tags(connection, &lookup)?, sources.externals))
            })
            .await?;
        let upstream = pull_through::offers(self.state, &externals, &Packument(name)).await;
        let mut upstream_tags = Map::new();
        let mut upstream_documents = Vec::new();
        for pull_through::Offer {
            owner: repository,
            connection: connection_name,
            document,
        } in upstream.offers
        {
            if let Some(tags) = document.get("dist-tags").and_then(Value::as_object) {
                for (tag, version) in tags {
                    upstream_tags
                        .entry(tag.clone())
                        .or_insert_with(|| version.clone());
                }
            }
            let times = document.get("time").cloned().unwrap_or(Value::Null);
            for (version, manifest) in document
                .get("versions")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if versions
                    .iter()
                    .any(|candidate| &candidate.version == version)
                {
                    continue;
                }
                let published = times
                    .get(version)
                    .and_then(Value::as_str)
                    .and_then(parse_time)
                    .unwrap_or(0.0);
                let dist = manifest.get("dist").map(|dist| json!({ "shasum": dist.get("shasum"), "integrity": dist.get("integrity") }));
                versions.push(Candidate {
                    version: version.clone(),
                    manifest: manifest.clone(),
                    dist,
                    published,
                    source: Source::External {
                        repository: repository.clone(),
                        connection: connection_name.clone(),
                    },
                });
            }
            upstream_documents.push(document);
        }
        Ok(View {
            versions,
            tags,
            upstream_tags,
            upstream_documents,
            notes: upstream.notes,
            upstream_blocked,
            consulted_externals: upstream.consulted,
        })
    }

    /// A packument, served from the document cache while the index is unchanged (and no
    /// external connection is involved), with an ETag that `If-None-Match` can revalidate.
    async fn packument(&self, package: &str) -> Result<Response, DataError> {
        let name = parse_name(package)?;
        let abbreviated = self
            .headers
            .get(axum::http::header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains(ABBREVIATED_MEDIA_TYPE));
        let cache_key = DocumentKey {
            package: self.key(&name),
            variant: if abbreviated { "abbreviated" } else { "full" },
            base_url: self.state.base_url(self.headers),
        };
        let generation = self.document_generation().await?;
        if let Some(response) = self.cached_document(&cache_key, generation) {
            return Ok(response);
        }
        let mut view = self.view(&name).await?;
        if view.versions.is_empty() {
            return Err(pull_through::not_found(
                format!(
                    "package `{name}` not found in `{}/{}`",
                    self.domain, self.repository
                ),
                view.upstream_blocked,
                &view.notes,
            ));
        }
        view.versions
            .sort_by(|left, right| left.published.total_cmp(&right.published));
        let mut version_map = Map::new();
        let mut times = Map::new();
        let (mut modified, mut created) = (0.0_f64, f64::MAX);
        for candidate in &view.versions {
            let manifest = version_manifest(
                &candidate.manifest,
                candidate.dist.as_ref(),
                &name,
                &candidate.version,
                &self.tarball_url(&name, &candidate.version),
            );
            let manifest = if abbreviated {
                abbreviate_manifest(&manifest)
            } else {
                manifest
            };
            version_map.insert(candidate.version.clone(), manifest);
            times.insert(
                candidate.version.clone(),
                json!(iso8601(candidate.published)),
            );
            modified = modified.max(candidate.published);
            created = created.min(candidate.published);
        }
        let mut dist_tags: Map<String, Value> = view
            .tags
            .iter()
            .map(|(tag, version)| (tag.clone(), Value::String(version.clone())))
            .collect();
        for (tag, version) in std::mem::take(&mut view.upstream_tags) {
            if !dist_tags.contains_key(&tag)
                && version
                    .as_str()
                    .is_some_and(|version| version_map.contains_key(version))
            {
                dist_tags.insert(tag, version);
            }
        }
        if !dist_tags.contains_key("latest")
            && let Some(candidate) = view.versions.last()
        {
            dist_tags.insert(
                "latest".to_owned(),
                Value::String(candidate.version.clone()),
            );
        }
        let body = if !view.upstream_documents.is_empty() {
            let full = self.merged_packument(&name, &view, dist_tags);
            if abbreviated {
                abbreviate_packument(&full)
            } else {
                full
            }
        } else if abbreviated {
            json!({ "name": name.to_string(), "modified": iso8601(modified), "dist-tags": dist_tags, "versions": version_map })
        } else {
            times.insert("created".to_owned(), json!(iso8601(created)));
            times.insert("modified".to_owned(), json!(iso8601(modified)));
            let latest_manifest = dist_tags
                .get("latest")
                .and_then(Value::as_str)
                .and_then(|latest| version_map.get(latest))
                .cloned()
                .unwrap_or(Value::Null);
            let mut body = json!({ "_id": name.to_string(), "name": name.to_string(), "dist-tags": dist_tags, "versions": version_map, "time": times });
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
        let body = serde_json::to_vec(&body).map_err(|error| {
            DataError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to render the packument: {error}"),
            )
        })?;
        let content_type = if abbreviated {
            ABBREVIATED_MEDIA_TYPE
        } else {
            "application/json"
        };
        Ok(self.respond_document(
            cache_key,
            generation,
            Document::new(body, content_type),
            view.consulted_externals,
            &view.notes,
        ))
    }

    /// The full packument when an external connection supplied one: the upstream's document
    /// as it wrote it (every top-level field, `time` with `created` and `modified`, every
    /// version manifest with every field: `deprecated`, `_npmUser`, `dist.signatures`,
    /// `dist.attestations`...), with only `dist.tarball` pointed here, merged with the
    /// versions held here that the upstream lacks or has with other bytes (those keep their
    /// manifest and publish time from this repository).
    fn merged_packument(
        &self,
        name: &PackageName,
        view: &View,
        dist_tags: Map<String, Value>,
    ) -> Value {
        let mut documents = view.upstream_documents.iter().filter_map(Value::as_object);
        let mut body = documents.next().cloned().unwrap_or_default();
        let mut upstream_versions = match body.remove("versions") {
            Some(Value::Object(versions)) => versions,
            _ => Map::new(),
        };
        let mut time = match body.remove("time") {
            Some(Value::Object(time)) => time,
            _ => Map::new(),
        };
        // A second external connection only adds the versions the first lacks.
        for document in documents {
            for (version, manifest) in document
                .get("versions")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if !upstream_versions.contains_key(version) {
                    upstream_versions.insert(version.clone(), manifest.clone());
                    if let Some(published) = document.get("time").and_then(|time| time.get(version))
                    {
                        time.insert(version.clone(), published.clone());
                    }
                }
            }
        }
        let mut versions = Map::new();
        let mut newest_local: Option<f64> = None;
        for candidate in &view.versions {
            let tarball = self.tarball_url(name, &candidate.version);
            let upstream = upstream_versions
                .get(&candidate.version)
                .filter(|upstream| match candidate.source {
                    Source::External { .. } => true,
                    Source::Repository(_) => {
                        same_tarball(candidate.dist.as_ref(), upstream.get("dist"))
                    }
                });
            let manifest = if let Some(Value::Object(upstream)) = upstream {
                let mut manifest = upstream.clone();
                match manifest.get_mut("dist") {
                    Some(Value::Object(dist)) => {
                        dist.insert("tarball".to_owned(), json!(tarball));
                    }
                    _ => {
                        manifest.insert("dist".to_owned(), json!({ "tarball": tarball }));
                    }
                }
                Value::Object(manifest)
            } else {
                time.insert(
                    candidate.version.clone(),
                    json!(iso8601(candidate.published)),
                );
                newest_local = Some(newest_local.map_or(candidate.published, |newest| {
                    newest.max(candidate.published)
                }));
                version_manifest(
                    &candidate.manifest,
                    candidate.dist.as_ref(),
                    name,
                    &candidate.version,
                    &tarball,
                )
            };
            versions.insert(candidate.version.clone(), manifest);
        }
        if let Some(newest) = newest_local {
            let later = time
                .get("modified")
                .and_then(Value::as_str)
                .and_then(parse_time)
                .is_none_or(|modified| modified < newest);
            if later {
                time.insert("modified".to_owned(), json!(iso8601(newest)));
            }
        }
        body.insert("dist-tags".to_owned(), Value::Object(dist_tags));
        body.insert("versions".to_owned(), Value::Object(versions));
        body.insert("time".to_owned(), Value::Object(time));
        Value::Object(body)
    }

    async fn tarball(&self, package: &str, file: &str) -> Result<Response, DataError> {
        let name = parse_name(package)?;
        let key = self.key(&name);
        let file_name = file.rsplit('/').next().unwrap_or(file).to_owned();
        let mut notes = Vec::new();
        let mut found = self.local_tarball(&key, &file_name).await?;
        if found.is_none()
            && let Some(version) = file_name
                .strip_prefix(&format!("{}-", name.name))
                .and_then(|rest| rest.strip_suffix(".tgz"))
        {
            found = self
                .pull_through(&name, version, &file_name, &mut notes)
                .await?;
        }
        let Some(found) = found else {
            return Err(with_notes(
                DataError::not_found(format!(
                    "tarball `{file_name}` of `{name}` not found in `{}/{}`",
                    self.domain, self.repository
                )),
                &notes,
            ));
        };
        let (row, asset) = &*found;
        let mut response = self
            .content_addressed(&asset.digests.sha256, "application/octet-stream")
            .await?;
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&row.version) {
            headers.insert("x-package-version", value);
        }
        add_notes(&mut response, &notes);
        Ok(response)
    }

    async fn local_tarball(
        &self,
        key: &PackageKey,
        file_name: &str,
    ) -> Result<Option<Arc<(VersionRow, AssetRow)>>, DataError> {
        let cache_key = (key.clone(), file_name.to_owned());
        let generation = self.generation;
        if let Some(found) =
            generation.and_then(|generation| self.state.caches.assets.get(&cache_key, generation))
        {
            return Ok(Some(found));
        }
        let (lookup, file) = cache_key.clone();
        let found = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                Ok(store::find_asset(connection, &lookup, &file)?)
            })
            .await?
            .filter(|(row, _)| row.status == "Published")
            .map(Arc::new);
        if let (Some(found), Some(generation)) = (&found, generation) {
            self.state
                .caches
                .assets
                .insert(cache_key, generation, Arc::clone(found));
        }
        Ok(found)
    }

    /// Fetch a version this repository does not hold from where the view says it lives,
    /// retaining it here (and, for an external connection, in the repository that owns the
    /// connection), as CodeArtifact does.
    async fn pull_through(
        &self,
        name: &PackageName,
        version: &str,
        file_name: &str,
        notes: &mut Vec<String>,
    ) -> Result<Option<Arc<(VersionRow, AssetRow)>>, DataError> {
        let view = self.view(name).await?;
        notes.extend(view.notes.iter().cloned());
        let Some(candidate) = view
            .versions
            .into_iter()
            .find(|candidate| candidate.version == version)
        else {
            return Ok(None);
        };
        let key = self.key(name);
        match candidate.source {
            Source::Repository(repository) => {
                pull_through::retain(self.state, &repository, &key, version).await?;
            }
            Source::External {
                repository,
                connection,
            } => {
                self.ingest_external(
                    &key,
                    &repository,
                    &connection,
                    version,
                    file_name,
                    &candidate.manifest,
                )
                .await?;
            }
        }
        self.local_tarball(&key, file_name).await
    }

    async fn ingest_external(
        &self,
        key: &PackageKey,
        repository: &str,
        connection_name: &str,
        version: &str,
        file_name: &str,
        manifest: &Value,
    ) -> Result<(), DataError> {
        let connection = pull_through::connection(self.state, connection_name)?;
        let what = format!("`{file_name}`");
        let dist = manifest.get("dist").cloned().unwrap_or(Value::Null);
        let tarball = dist
            .get("tarball")
            .and_then(Value::as_str)
            .and_then(|text| connection.url.join(text).ok())
            .ok_or_else(|| {
                DataError::new(
                    StatusCode::BAD_GATEWAY,
                    format!("{connection_name} lists {version} without a tarball URL"),
                )
            })?;
        let claimed = claimed_digest(&dist);
        let (bytes, digests) = pull_through::fetch_verified(
            self.state,
            connection,
            &what,
            &tarball,
            claimed
                .as_ref()
                .map(|(algorithm, hex)| (*algorithm, hex.as_str())),
        )
        .await?;
        let mut metadata = manifest.clone();
        if let Some(object) = metadata.as_object_mut() {
            object.remove("dist");
        }
        let pulled = pull_through::Pulled {
            here: key.clone(),
            owner: repository.to_owned(),
            connection: connection_name.to_owned(),
            version: version.to_owned(),
            file: file_name.to_owned(),
            metadata: Some(metadata.to_string()),
        };
        pull_through::store(self.state, pulled, bytes, digests, |_, _, _| Ok(())).await?;
        Ok(())
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
        body: axum::body::Body,
        principal: Option<&Principal>,
    ) -> Result<Response, DataError> {
        let name = parse_name(package)?;
        let limits = self.state.limits;
        let tmp = self.state.store.tmp_dir().to_path_buf();
        let body =
            crate::server::ingest::spool(&tmp, body, limits.max_upload_bytes, limits).await?;
        let reading = name.clone();
        let PublishBody { versions, tags } = crate::server::ingest::blocking(move || {
            let reader = std::io::BufReader::with_capacity(64 * 1024, body.reader()?);
            Ok(
                read_publish_body(&reading, reader, &tmp, limits).and_then(|body| {
                    validate_npm_publish(&reading, &body.versions)?;
                    Ok(body)
                }),
            )
        })
        .await??;
        // Every digest is checked before any blob is placed, so a refusal leaves nothing.
        let mut checked = Vec::new();
        for PublishedVersion {
            version,
            manifest,
            tarball,
        } in versions
        {
            let digests = tarball.digests();
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
            checked.push((version, manifest, tarball));
        }
        let mut staged = Vec::new();
        let mut placements = Vec::new();
        for (version, mut manifest, tarball) in checked {
            let file = name.tarball_file_name(&version);
            let size = tarball.size();
            let placed = self.state.store.put_spool(tarball).await?;
            manifest.remove("_attachments");
            manifest.insert(
                "_npmUser".to_owned(),
                json!({ "name": principal.map(|principal| principal.name.clone()) }),
            );
            staged.push((
                version,
                Value::Object(manifest),
                AssetRow {
                    name: file,
                    size,
                    digests: placed.digests.clone(),
                },
            ));
            placements.push(placed);
        }
        let key = self.key(&name);
        let now = self.state.clock.now();
        let display = name.to_string();
        let outcome = self
            .state
            .store
            .with(move |connection| -> Result<Result<(), (StatusCode, String)>, DataError> {
                let transaction = store::write_transaction(connection)?;
                for (version, _, _) in &staged {
                    if store::version(&transaction, &key, version)?.is_some() {
                        return Ok(Err((StatusCode::CONFLICT, format!("cannot publish over the previously published version {display}@{version}"))));
                    }
                }
                if let Err(refused) = packages::admit_publish(&transaction, &key) {
                    return Ok(Err((StatusCode::FORBIDDEN, refused.refusal(&display)?)));
                }
                for (version, manifest, asset) in &staged {
                    let row = VersionRow {
                        id: 0,
                        version: version.clone(),
                        revision: store::new_revision(),
                        status: "Published".to_owned(),
                        published: now,
                        metadata: Some(manifest.to_string()),
                    };
                    let id = store::insert_version(&transaction, &key, &row)?;
                    store::insert_asset(&transaction, id, asset)?;
                }
                for (tag, version) in &tags {
                    let published = staged.iter().any(|(staged, _, _)| staged == version)
                        || store::version(&transaction, &key, version)?
                            .is_some_and(|row| row.status == "Published");
                    if !published {
                        return Ok(Err((StatusCode::BAD_REQUEST, format!("dist-tag `{tag}` points to {display}@{version}, which is neither in this publish nor published"))));
                    }
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
        if outcome.is_err() {
            for placed in placements {
                self.state.store.discard(placed).await?;
            }
        } else {
            drop(placements);
        }
        outcome.map_err(|(status, message)| DataError::new(status, message))?;
        tracing::info!(package = %name, "npm publish");
        Ok((
            StatusCode::CREATED,
            axum::Json(json!({ "ok": true, "id": name.to_string(), "success": true })),
        )
            .into_response())
    }
}

/// One version of an npm publish body.
#[derive(Debug)]
pub struct PublishedVersion {
    /// The `versions` key.
    pub version: String,
    /// Its manifest (always a JSON object).
    pub manifest: Map<String, Value>,
    /// The decoded tarball attachment, in its temp file.
    pub tarball: crate::server::ingest::Spool,
}

/// What an npm publish body (`PUT /{package}`) asks for.
#[derive(Debug)]
pub struct PublishBody {
    /// Every version with its tarball.
    pub versions: Vec<PublishedVersion>,
    /// `dist-tags` with string values.
    pub tags: Vec<(String, String)>,
}

/// Read and check an npm publish body for package `name` from `reader`: attachments are
/// decoded into temp files in `tmp` as they stream by ([`self::publish`]), then the
/// rest of the document is checked as [`parse_publish_body`] does.
///
/// # Errors
/// A [`DataError`]: 400 naming what is wrong, 413 over `--max-body-mib` (a tarball) or
/// `--max-metadata-mib` (the rest of the document).
pub fn read_publish_body(
    name: &PackageName,
    reader: impl std::io::BufRead,
    tmp: &std::path::Path,
    limits: crate::server::ingest::Limits,
) -> Result<PublishBody, DataError> {
    let extracted = self::publish::extract_attachments(
        reader,
        tmp,
        limits.max_metadata_bytes,
        limits.max_upload_bytes,
    )
    .map_err(|error| match error {
        self::publish::ExtractError::Invalid(message) => {
            DataError::bad_request(format!("the publish body is not valid: {message}"))
        }
        self::publish::ExtractError::Body(error) => error.into(),
    })?;
    parse_publish_body(name, &extracted.document, extracted.attachments)
}

/// Check an npm publish document for package `name` whose attachments were already decoded
/// (`attachments`, by their key in `_attachments`): JSON, the `name` matching the URL,
/// object manifests, one attachment per version with a matching `length`. Digest checks
/// against `dist` happen once the body is in.
///
/// # Errors
/// A 400 [`DataError`] naming what is wrong.
pub fn parse_publish_body<S: std::hash::BuildHasher>(
    name: &PackageName,
    body: &[u8],
    mut decoded: std::collections::HashMap<String, crate::server::ingest::Spool, S>,
) -> Result<PublishBody, DataError> {
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
    let tags = document
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
    let mut parsed = Vec::new();
    for (version, manifest) in versions {
        let Some(manifest) = manifest.as_object() else {
            return Err(DataError::bad_request(format!(
                "the manifest of version `{version}` is not a JSON object"
            )));
        };
        let file = name.tarball_file_name(version);
        let (key, attachment) = attachments
            .get_key_value(&format!("{name}-{version}.tgz"))
            .or_else(|| attachments.get_key_value(&file))
            .or_else(|| {
                (attachments.len() == 1 && versions.len() == 1)
                    .then(|| attachments.iter().next())
                    .flatten()
            })
            .ok_or_else(|| {
                DataError::bad_request(format!("no attachment for version `{version}`"))
            })?;
        let tarball = decoded
            .remove(key)
            .ok_or_else(|| DataError::bad_request("attachment without `data`"))?;
        if let Some(length) = attachment.get("length").and_then(Value::as_u64)
            && length != tarball.size()
        {
            return Err(DataError::bad_request(format!(
                "attachment length {} does not match the declared {length}",
                tarball.size()
            )));
        }
        parsed.push(PublishedVersion {
            version: version.clone(),
            manifest: manifest.clone(),
            tarball,
        });
    }
    Ok(PublishBody {
        versions: parsed,
        tags,
    })
}

/// Largest `package.json` read from a published tarball.
const MAX_TARBALL_MANIFEST_BYTES: u64 = 1024 * 1024;
/// Bytes of a published tarball decompressed while looking for its `package.json`.
const MAX_TARBALL_SCAN_BYTES: u64 = 1024 * 1024 * 1024;

/// Check an npm publish as the public registry does: every version is valid semver, its
/// manifest's `name` and `version` (when given) are the document's, and so are those of the
/// `package.json` inside its tarball, so a client cannot publish a tarball that installs as
/// another package or version than the registry lists.
///
/// # Errors
/// A 400 [`DataError`] naming the version and what differs.
pub fn validate_npm_publish(
    name: &PackageName,
    versions: &[PublishedVersion],
) -> Result<(), DataError> {
    let expected_name = name.to_string();
    for published in versions {
        let version = &published.version;
        if !crate::ecosystem::npm::pack::is_semver(version) {
            return Err(DataError::bad_request(format!(
                "`{version}` is not a valid semver version"
            )));
        }
        let inside = published
            .tarball
            .reader()
            .map_err(|error| format!("unreadable: {error}"))
            .and_then(tarball_manifest)
            .map_err(|message| {
                DataError::bad_request(format!(
                    "the tarball of {expected_name}@{version}: {message}"
                ))
            })?;
        for (source, manifest, required) in [
            ("the document's manifest", &published.manifest, false),
            ("the tarball's `package/package.json`", &inside, true),
        ] {
            for (field, expected) in [("name", expected_name.as_str()), ("version", version)] {
                match manifest.get(field).and_then(Value::as_str) {
                    Some(found) if found != expected => {
                        return Err(DataError::bad_request(format!(
                            "{source} of {expected_name}@{version} has {field} `{found}`, not `{expected}`"
                        )));
                    }
                    None if required => {
                        return Err(DataError::bad_request(format!(
                            "{source} of {expected_name}@{version} has no `{field}`"
                        )));
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// The `package.json` of an npm tarball: the root one, `<top directory>/package.json`
/// (`package/` as npm packs it), read with bounds on its size and on the bytes decompressed.
fn tarball_manifest(tarball: impl std::io::Read) -> Result<Map<String, Value>, String> {
    use std::io::Read as _;
    let decoder = flate2::read::GzDecoder::new(tarball).take(MAX_TARBALL_SCAN_BYTES);
    let mut archive = tar::Archive::new(decoder);
    let entries = archive
        .entries()
        .map_err(|error| format!("not a gzipped tar archive: {error}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| format!("unreadable tar archive: {error}"))?;
        let path = entry
            .path()
            .map_err(|error| format!("unreadable entry name: {error}"))?
            .into_owned();
        let mut components = path.components();
        let (Some(_top), Some(file), None) =
            (components.next(), components.next(), components.next())
        else {
            continue;
        };
        if file.as_os_str() != "package.json" {
            continue;
        }
        let mut text = Vec::new();
        (&mut entry)
            .take(MAX_TARBALL_MANIFEST_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(|error| format!("unreadable `{}`: {error}", path.display()))?;
        if text.len() as u64 > MAX_TARBALL_MANIFEST_BYTES {
            return Err(format!("`{}` is over 1 MiB", path.display()));
        }
        return match serde_json::from_slice(&text) {
            Ok(Value::Object(manifest)) => Ok(manifest),
            _ => Err(format!("`{}` is not a JSON object", path.display())),
        };
    }
    Err("it has no `package/package.json`".to_owned())
}

/// A version's manifest as served in a packument: the stored (or upstream) manifest with
/// `dist` (plus `tarball`), `name` and `version` set. A manifest or `dist` that is not a
/// JSON object (an upstream's, or one stored before publish checked) counts as empty.
#[must_use]
pub fn version_manifest(
    manifest: &Value,
    dist: Option<&Value>,
    name: &PackageName,
    version: &str,
    tarball_url: &str,
) -> Value {
    let mut manifest = manifest.as_object().cloned().unwrap_or_default();
    let mut dist = dist.and_then(Value::as_object).cloned().unwrap_or_default();
    dist.insert("tarball".to_owned(), json!(tarball_url));
    manifest.insert("dist".to_owned(), Value::Object(dist));
    manifest.insert("name".to_owned(), json!(name.to_string()));
    manifest.insert("version".to_owned(), json!(version));
    Value::Object(manifest)
}

/// A version visible through a repository, and where it lives.
struct Candidate {
    version: String,
    manifest: Value,
    dist: Option<Value>,
    published: f64,
    source: Source,
}

enum Source {
    /// Held by this repository or one of its upstream repositories.
    Repository(String),
    /// Offered by an external connection owned by `repository`.
    External {
        repository: String,
        connection: String,
    },
}

struct View {
    versions: Vec<Candidate>,
    tags: Vec<(String, String)>,
    upstream_tags: Map<String, Value>,
    /// The packuments external connections answered with, as they wrote them.
    upstream_documents: Vec<Value>,
    notes: Vec<String>,
    upstream_blocked: bool,
    /// Whether an external connection was asked: the view then depends on more than the
    /// index, so it is not cached.
    consulted_externals: bool,
}

/// Whether a tarball held here (`held`: its `shasum` and sha512 `integrity`) is the one an
/// upstream's `dist` describes.
fn same_tarball(held: Option<&Value>, upstream: Option<&Value>) -> bool {
    let (Some(held), Some(upstream)) = (held, upstream) else {
        return false;
    };
    let field =
        |dist: &Value, name: &str| dist.get(name).and_then(Value::as_str).map(str::to_owned);
    let held_integrity = field(held, "integrity");
    if let Some(integrity) = field(upstream, "integrity")
        && integrity.starts_with("sha512-")
    {
        return held_integrity
            .is_some_and(|held| integrity.split_whitespace().any(|entry| entry == held));
    }
    match (field(held, "shasum"), field(upstream, "shasum")) {
        (Some(held), Some(upstream)) => held.eq_ignore_ascii_case(&upstream),
        _ => false,
    }
}

/// The abbreviated ("corgi") packument derived from a full one as the registry derives it:
/// `name`, `modified`, `dist-tags`, and each version with only the install fields.
fn abbreviate_packument(full: &Value) -> Value {
    let time = full.get("time").and_then(Value::as_object);
    // The document's own `modified`, else its newest version's time, as written.
    let modified = time
        .and_then(|time| time.get("modified"))
        .cloned()
        .or_else(|| {
            time.into_iter()
                .flatten()
                .filter(|(key, _)| key.as_str() != "created")
                .filter_map(|(_, value)| Some((parse_time(value.as_str()?)?, value)))
                .max_by(|left, right| left.0.total_cmp(&right.0))
                .map(|(_, value)| value.clone())
        });
    let versions: Map<String, Value> = full
        .get("versions")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(version, manifest)| (version.clone(), abbreviate_manifest(manifest)))
        .collect();
    let mut body = Map::new();
    body.insert(
        "name".to_owned(),
        full.get("name").cloned().unwrap_or(Value::Null),
    );
    if let Some(modified) = modified {
        body.insert("modified".to_owned(), modified);
    }
    body.insert(
        "dist-tags".to_owned(),
        full.get("dist-tags").cloned().unwrap_or_else(|| json!({})),
    );
    body.insert("versions".to_owned(), Value::Object(versions));
    Value::Object(body)
}

fn parse_time(text: &str) -> Option<f64> {
    let moment =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    #[expect(clippy::cast_precision_loss, reason = "epoch milliseconds fit in f64")]
    let seconds = (moment.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0;
    Some(seconds)
}

/// The digest an upstream's `dist` claims for a tarball, as `(algorithm, hex)`: the first
/// `dist.integrity` entry of an algorithm we compute, else `dist.shasum`. `None` when it
/// claims none (the tarball is then refused).
fn claimed_digest(dist: &Value) -> Option<(&'static str, String)> {
    if let Some(integrity) = dist.get("integrity").and_then(Value::as_str) {
        for entry in integrity.split_whitespace() {
            let Some((algorithm, encoded)) = entry.split_once('-') else {
                continue;
            };
            let algorithm = match algorithm {
                "sha512" => "sha512",
                "sha256" => "sha256",
                "sha1" => "sha1",
                _ => continue,
            };
            let encoded = encoded.split('?').next().unwrap_or(encoded);
            // Undecodable: an empty claim, which no content matches.
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap_or_default();
            return Some((algorithm, hex::encode(decoded)));
        }
    }
    dist.get("shasum")
        .and_then(Value::as_str)
        .map(|shasum| ("sha1", shasum.to_owned()))
}

/// An npm packument from an external connection of format `npm`.
struct Packument<'a>(&'a PackageName);

impl UpstreamAdapter for Packument<'_> {
    const FORMAT: crate::format::Format = crate::format::Format::Npm;
    type Document = Value;

    async fn read(&self, upstream: &mut UpstreamReader<'_>) -> Result<Option<Value>, String> {
        let path = self.0.to_string().replace('/', "%2f");
        let url = upstream.join(&path)?;
        let Some(body) = upstream.document(&url, "application/json", &path).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|error| upstream.invalid("packument", error))
    }
}

fn parse_name(package: &str) -> Result<PackageName, DataError> {
    PackageName::parse(package).map_err(|error| DataError::bad_request(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzzing found this: a version manifest that is not an object was stored as is and
    /// the next packument request panicked setting its `dist` (`serde_json` `IndexMut`).
    #[test]
    fn publish_bodies_with_non_object_manifests_are_refused() {
        let name = PackageName::parse("a").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let limits = crate::server::ingest::Limits::default();
        let body =
            br#"{"name":"a","versions":{"1.0.0":5},"_attachments":{"a-1.0.0.tgz":{"data":""}}}"#;
        let error = read_publish_body(&name, &body[..], dir.path(), limits).unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert!(
            error.message.contains("not a JSON object"),
            "{}",
            error.message
        );
        let body = br#"{"name":"a","versions":{"1.0.0":{"dist":{}}},"_attachments":{"a-1.0.0.tgz":{"data":"aGk=","length":2}},"dist-tags":{"latest":"1.0.0","x":1}}"#;
        let parsed = read_publish_body(&name, &body[..], dir.path(), limits).unwrap();
        assert_eq!(parsed.versions[0].tarball.read_all().unwrap(), b"hi");
        assert_eq!(parsed.tags, vec![("latest".to_owned(), "1.0.0".to_owned())]);
    }

    /// The same panic from an upstream's packument, or a manifest stored before the check.
    #[test]
    fn non_object_manifests_and_dists_render_as_empty_objects() {
        let name = PackageName::parse("@s/a").unwrap();
        for (manifest, dist) in [
            (json!(5), Some(json!("x"))),
            (json!([1]), None),
            (json!({"dist": 1}), Some(json!({"shasum": "ab"}))),
        ] {
            let rendered =
                version_manifest(&manifest, dist.as_ref(), &name, "1.0.0", "http://t/a.tgz");
            assert_eq!(rendered["name"], "@s/a");
            assert_eq!(rendered["version"], "1.0.0");
            assert_eq!(rendered["dist"]["tarball"], "http://t/a.tgz");
        }
    }

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
