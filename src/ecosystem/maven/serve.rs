//! The Maven repository data plane at `/d/{domain}/maven/{repository}/`.
//!
//! Speaks the plain repository layout `mvn deploy` and dependency resolution use (verified
//! against mvn 3.8.7, see PROTOCOLS.md §3): `GET`/`HEAD`/`PUT` of artifact files and their
//! `.md5`/`.sha1`/`.sha256`/`.sha512` sidecars, and `maven-metadata.xml` at artifact and
//! SNAPSHOT version level. As in CodeArtifact:
//!
//! - every file is an asset of its version (format `maven`, namespace = groupId, package =
//!   artifactId); a new version starts `Unfinished` and becomes `Published` when an
//!   artifact-level `maven-metadata.xml` listing it is uploaded;
//! - checksum sidecars are never stored: a `PUT` is checked against the file's digest (400 on
//!   mismatch, 404 before the file) and a `GET` is answered from the stored digests;
//! - `maven-metadata.xml` is always generated from the index (client uploads only publish),
//!   so it cannot go stale or disagree with its own checksums;
//! - a SNAPSHOT holds the assets of its newest timestamped build; when a newer build arrives
//!   the previous build's files move to an `Unlisted` version named after the build
//!   (`1.0-20240501.120301-1`), where they stay downloadable.
//!
//! Reads fall through to upstream repositories (a file held there is retained here, with its
//! version) and external connections: a release file missing everywhere in the domain is
//! fetched, checked against the upstream's `.sha1` (else `.sha256`, `.sha512`) sidecar (none:
//! refused, nothing stored) and recorded with EXTERNAL origin; artifact-level
//! `maven-metadata.xml` lists the versions of every source. SNAPSHOTs come from upstream
//! repositories only.
//!
//! Re-deploying a release file with identical bytes answers 200 and changes nothing (so an
//! interrupted `mvn deploy` can be rerun); different bytes answer 409.
//!
//! Auth is HTTP Basic `aws:<token>` (or Bearer). A 401 carries only a Basic challenge:
//! Maven's HTTP client sends credentials on a GET only after a challenge it understands.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::archive::Digests;
use crate::ecosystem::maven::{
    ArtifactFile, ArtifactMetadata, ChecksumAlgorithm, RepositoryPath, SnapshotFile,
    SnapshotMetadata, is_snapshot, last_updated, listed_versions,
};
use crate::server::AppState;
use crate::server::access::{self, Permission};
use crate::server::data_plane::{DataPlane, DataRequest, Handling, data_request};
use crate::server::decode_segment as decode;
use crate::server::error::DataError;
use crate::server::packages;
use crate::server::pull_through::{self, UpstreamAdapter, UpstreamReader};
use crate::server::store::{self, AssetRow, Blob, PackageKey, VersionRow};
use crate::server::upstream::{ExternalConnection, add_notes, verify_hex, with_notes};

/// The challenge Maven (Apache HttpClient) answers with credentials.
const CHALLENGE: &str = "Basic realm=\"lading\"";

/// Statuses whose files can be downloaded.
const READABLE: [&str; 3] = ["Published", "Unfinished", "Unlisted"];

/// The maven data plane, as `lading serve` mounts it.
#[derive(Debug)]
pub struct MavenDataPlane;

impl DataPlane for MavenDataPlane {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Maven
    }

    fn handle(&self, state: Arc<AppState>, request: Request) -> Handling {
        Box::pin(handle(State(state), request))
    }
}

/// Entry point for `/d/{domain}/maven/{repository}/{*rest}`.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    // /d/{domain}/maven/{repository}/{rest}
    let mut segments = path.splitn(6, '/').skip(2);
    let domain = decode(segments.next().unwrap_or_default());
    let repository = decode(segments.nth(1).unwrap_or_default());
    let rest: Vec<String> = segments
        .next()
        .unwrap_or_default()
        .split('/')
        .map(decode)
        .collect();
    let request = MavenRequest {
        request: DataRequest::new(&state, &parts.headers, domain, repository),
    };
    let response = match request.serve(&parts.method, &rest.join("/"), body).await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(status = %error.status, message = %error.message, %path, "maven request refused");
            let mut response = error.into_response();
            if response.status() == StatusCode::UNAUTHORIZED {
                response
                    .headers_mut()
                    .insert("www-authenticate", HeaderValue::from_static(CHALLENGE));
            }
            response
        }
    };
    // What the client sent, for protocol debugging with `LADING_LOG=lading=debug`.
    let authorization = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_whitespace().next())
        .unwrap_or("none");
    let header = |name: axum::http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    tracing::debug!(
        method = %parts.method,
        %path,
        authorization,
        user_agent = header(axum::http::header::USER_AGENT),
        content_type = header(axum::http::header::CONTENT_TYPE),
        expect = header(axum::http::header::EXPECT),
        status = response.status().as_u16(),
        "maven"
    );
    response
}

data_request! {
    struct MavenRequest {}
}

/// A file to serve: its bytes and content type.
struct Served {
    bytes: Blob,
    content_type: &'static str,
    digests: Digests,
}

fn checksum_of(digests: &Digests, algorithm: ChecksumAlgorithm) -> &str {
    match algorithm {
        ChecksumAlgorithm::Md5 => &digests.md5,
        ChecksumAlgorithm::Sha1 => &digests.sha1,
        ChecksumAlgorithm::Sha256 => &digests.sha256,
        ChecksumAlgorithm::Sha512 => &digests.sha512,
    }
}

fn content_type(file_name: &str) -> &'static str {
    let extension = file_name.rsplit('.').next().unwrap_or_default();
    match extension {
        "pom" | "xml" => "text/xml",
        "jar" | "war" | "ear" => "application/java-archive",
        "asc" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// `request`'s `Range` is answered as [`Blob::respond`] does.
fn respond(served: Served, checksum: Option<ChecksumAlgorithm>, request: &HeaderMap) -> Response {
    let (body, content_type) = match checksum {
        Some(algorithm) => (
            Blob::Bytes(Bytes::from(
                checksum_of(&served.digests, algorithm).to_owned(),
            )),
            "text/plain",
        ),
        None => (served.bytes, served.content_type),
    };
    let mut response = body.respond(request);
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if checksum.is_none() {
        for (name, value) in [
            ("x-checksum-sha1", &served.digests.sha1),
            ("x-checksum-md5", &served.digests.md5),
            ("x-checksum-sha256", &served.digests.sha256),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
    }
    response
}

impl MavenRequest<'_> {
    async fn serve(
        &self,
        method: &Method,
        rest: &str,
        body: axum::body::Body,
    ) -> Result<Response, DataError> {
        let principal = access::authenticate_token(self.state, self.headers, &self.domain).await?;
        let permission = match method.as_str() {
            "GET" | "HEAD" => Permission::Read,
            "PUT" => Permission::Publish,
            other => {
                return Err(DataError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!("{other} is not supported by lading serve's Maven repository"),
                ));
            }
        };
        access::require(
            principal.as_ref(),
            &self.domain,
            &self.repository,
            permission,
        )?;
        self.require_repository().await?;
        let target = RepositoryPath::parse(rest).map_err(|error| {
            if permission == Permission::Read {
                DataError::not_found(error.to_string())
            } else {
                DataError::bad_request(error.to_string())
            }
        })?;
        if permission == Permission::Read {
            return self.read(target).await;
        }
        let limits = self.state.limits;
        let small =
            |body| crate::server::ingest::read_small(body, limits.max_metadata_bytes, limits);
        match target {
            RepositoryPath::File {
                group_id,
                artifact_id,
                version,
                file,
                checksum: None,
            } => {
                let spool = crate::server::ingest::spool(
                    self.state.store.tmp_dir(),
                    body,
                    limits.max_upload_bytes,
                    limits,
                )
                .await?;
                self.put_file(&self.key(&group_id, &artifact_id), &version, &file, spool)
                    .await
            }
            RepositoryPath::File {
                group_id,
                artifact_id,
                file,
                checksum: Some(algorithm),
                ..
            } => {
                let body = small(body).await?;
                self.put_checksum(&self.key(&group_id, &artifact_id), &file, algorithm, &body)
                    .await
            }
            RepositoryPath::ArtifactMetadata {
                group_id,
                artifact_id,
                checksum: None,
            } => {
                let body = small(body).await?;
                self.put_artifact_metadata(&self.key(&group_id, &artifact_id), &body)
                    .await
            }
            RepositoryPath::VersionMetadata { checksum: None, .. } => {
                // Served from the index; only check that the client sent metadata.
                let body = small(body).await?;
                listed_versions(&body)
                    .map_err(|error| DataError::bad_request(error.to_string()))?;
                Ok(StatusCode::CREATED.into_response())
            }
            // Sidecars of metadata describe the client's document, which is not what is
            // served; accept them so `mvn deploy` completes.
            RepositoryPath::ArtifactMetadata { .. } | RepositoryPath::VersionMetadata { .. } => {
                small(body).await?;
                Ok(StatusCode::CREATED.into_response())
            }
        }
    }

    fn key(&self, group_id: &str, artifact_id: &str) -> PackageKey {
        self.package_key(
            crate::format::Format::Maven,
            group_id.to_owned(),
            artifact_id.to_owned(),
        )
    }

    async fn versions_with_assets(
        &self,
        key: &PackageKey,
    ) -> Result<Vec<(VersionRow, Vec<AssetRow>)>, DataError> {
        let key = key.clone();
        self.state
            .store
            .with(move |connection| -> Result<_, DataError> {
                store::versions(connection, &key)?
                    .into_iter()
                    .map(|row| {
                        let assets = store::assets(connection, row.id)?;
                        Ok((row, assets))
                    })
                    .collect()
            })
            .await
    }

    async fn read(&self, target: RepositoryPath) -> Result<Response, DataError> {
        match target {
            RepositoryPath::File {
                group_id,
                artifact_id,
                version,
                file,
                checksum,
            } => {
                let key = self.key(&group_id, &artifact_id);
                let mut notes = Vec::new();
                let mut found = self.local_file(&key, &file.name).await?;
                if found.is_none()
                    && self
                        .pull_through(&key, &version, &file.name, &mut notes)
                        .await?
                {
                    found = self.local_file(&key, &file.name).await?;
                }
                let Some(asset) = found else {
                    return Err(with_notes(
                        DataError::not_found(format!(
                            "`{}` not found in {group_id}:{artifact_id}",
                            file.name
                        )),
                        &notes,
                    ));
                };
                // A checksum needs no blob read.
                let bytes = if checksum.is_some() {
                    Blob::Bytes(Bytes::new())
                } else {
                    self.state
                        .store
                        .open_blob(asset.digests.sha256.clone())
                        .await?
                };
                let mut response = respond(
                    Served {
                        bytes,
                        content_type: content_type(&asset.name),
                        digests: asset.digests,
                    },
                    checksum,
                    self.headers,
                );
                add_notes(&mut response, &notes);
                Ok(response)
            }
            RepositoryPath::ArtifactMetadata {
                group_id,
                artifact_id,
                checksum,
            } => {
                let key = self.key(&group_id, &artifact_id);
                let merged = self.merged_versions(&key).await?;
                if merged.versions.is_empty() {
                    return Err(with_notes(
                        DataError::not_found(format!(
                            "no published versions of {group_id}:{artifact_id}{}",
                            merged.blocked_note
                        )),
                        &merged.notes,
                    ));
                }
                let document = ArtifactMetadata {
                    group_id,
                    artifact_id,
                    versions: merged.versions,
                    last_updated: last_updated(merged.newest),
                }
                .to_xml();
                let mut response = respond(metadata(document), checksum, self.headers);
                add_notes(&mut response, &merged.notes);
                Ok(response)
            }
            RepositoryPath::VersionMetadata {
                group_id,
                artifact_id,
                version,
                checksum,
            } => {
                let key = self.key(&group_id, &artifact_id);
                let versions = self.versions_with_assets(&key).await?;
                let listed = versions.iter().any(|(row, _)| {
                    row.version == version
                        && (row.status == "Published" || row.status == "Unfinished")
                });
                // Retired builds count too: while build N+1 is being uploaded, a file it
                // has not reached yet still resolves to build N's.
                let assets: Vec<&AssetRow> = if listed {
                    versions
                        .iter()
                        .filter(|(row, _)| READABLE.contains(&row.status.as_str()))
                        .flat_map(|(_, assets)| assets)
                        .collect()
                } else {
                    Vec::new()
                };
                let files = assets
                    .iter()
                    .filter_map(|asset| {
                        ArtifactFile::parse(&artifact_id, &version, &asset.name).ok()
                    })
                    .filter_map(|file| {
                        Some(SnapshotFile {
                            build: file.build?,
                            classifier: file.classifier,
                            extension: file.extension,
                        })
                    })
                    .collect();
                let document = SnapshotMetadata {
                    group_id: group_id.clone(),
                    artifact_id: artifact_id.clone(),
                    version: version.clone(),
                    files,
                }
                .to_xml()
                .ok_or_else(|| {
                    DataError::not_found(format!("no builds of {group_id}:{artifact_id}:{version}"))
                })?;
                Ok(respond(metadata(document), checksum, self.headers))
            }
        }
    }

    async fn local_file(
        &self,
        key: &PackageKey,
        file_name: &str,
    ) -> Result<Option<AssetRow>, DataError> {
        let (key, name) = (key.clone(), file_name.to_owned());
        let found = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                Ok(store::find_asset(connection, &key, &name)?)
            })
            .await?;
        Ok(found
            .filter(|(row, _)| READABLE.contains(&row.status.as_str()))
            .map(|(_, asset)| asset))
    }

    /// The published versions of an artifact across this repository, its upstream
    /// repositories and their external connections (their `maven-metadata.xml`, cached and
    /// served stale when the upstream is down).
    async fn merged_versions(&self, key: &PackageKey) -> Result<MergedVersions, DataError> {
        let lookup = key.clone();
        let reader = access::reader(self.state, self.headers, &self.domain).await?;
        let (sources, mut versions, mut newest) = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let sources = packages::read_sources(connection, &lookup, reader.as_ref())?;
                let (mut versions, mut newest) = (Vec::new(), 0.0_f64);
                for (_, row) in sources.held_versions(connection, &lookup)? {
                    if row.status == "Published" && !versions.contains(&row.version) {
                        newest = newest.max(row.published);
                        versions.push(row.version);
                    }
                }
                Ok((sources, versions, newest))
            })
            .await?;
        let upstream =
            pull_through::offers(self.state, &sources.externals, &ArtifactVersions(key)).await;
        for listed in upstream.offers.into_iter().map(|offer| offer.document) {
            for version in listed {
                if !versions.contains(&version) {
                    versions.push(version);
                    newest = newest.max(self.state.clock.now());
                }
            }
        }
        Ok(MergedVersions {
            versions,
            newest,
            notes: upstream.notes,
            blocked_note: sources.blocked_note(),
        })
    }

    fn external(&self, name: &str) -> Option<&ExternalConnection> {
        self.state
            .externals
            .get(name)
            .filter(|connection| connection.format == crate::format::Format::Maven)
    }

    /// Bring a file this repository does not hold: retain its version from an upstream
    /// repository, or fetch it from an external connection, verify it against the
    /// upstream's checksum sidecar and record it (in the repository owning the connection,
    /// and here). Returns whether it was found.
    async fn pull_through(
        &self,
        key: &PackageKey,
        version: &str,
        file_name: &str,
        notes: &mut Vec<String>,
    ) -> Result<bool, DataError> {
        let (lookup, name) = (key.clone(), file_name.to_owned());
        let reader = access::reader(self.state, self.headers, &self.domain).await?;
        let (sources, held) = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let sources = packages::read_sources(connection, &lookup, reader.as_ref())?;
                for repository in sources.repositories.iter().skip(1) {
                    let repository_key = PackageKey {
                        repository: repository.clone(),
                        ..lookup.clone()
                    };
                    if let Some((row, _)) = store::find_asset(connection, &repository_key, &name)?
                        && READABLE.contains(&row.status.as_str())
                    {
                        return Ok((sources, Some((repository_key, row.version))));
                    }
                }
                Ok((sources, None))
            })
            .await?;
        if let Some((from, held_version)) = held {
            pull_through::retain(self.state, &from.repository, key, &held_version).await?;
            return Ok(true);
        }
        if is_snapshot(version) {
            // SNAPSHOTs come from upstream repositories only: an external SNAPSHOT changes
            // under the same name, which a pull-through cache cannot verify once.
            return Ok(false);
        }
        for (owner, connection_name) in sources.externals {
            let Some(connection) = self.external(&connection_name) else {
                continue;
            };
            let directory = format!(
                "{}/{}/{version}/",
                key.namespace.replace('.', "/"),
                key.package
            );
            let Ok(url) = connection.url.join(&format!("{directory}{file_name}")) else {
                continue;
            };
            let bytes = match self.state.externals.fetch_optional(connection, &url).await {
                Ok(Some(bytes)) => bytes,
                Ok(None) => continue,
                Err(error) => {
                    notes.push(format!("{connection_name} unavailable: {error}"));
                    continue;
                }
            };
            let what = format!("`{file_name}`");
            let refuse = |message: String| pull_through::refused(&connection_name, &what, &message);
            let mut claimed = None;
            for algorithm in ["sha1", "sha256", "sha512"] {
                let Ok(sidecar) = connection
                    .url
                    .join(&format!("{directory}{file_name}.{algorithm}"))
                else {
                    continue;
                };
                match self
                    .state
                    .externals
                    .fetch_optional(connection, &sidecar)
                    .await
                {
                    Ok(Some(body)) => {
                        claimed =
                            ChecksumAlgorithm::claimed_digest(&String::from_utf8_lossy(&body))
                                .map(|digest| (algorithm, digest));
                        if claimed.is_some() {
                            break;
                        }
                    }
                    Ok(None) => {}
                    Err(error) => {
                        return Err(refuse(format!(
                            "its checksum could not be fetched: {error}"
                        )));
                    }
                }
            }
            let Some((algorithm, expected)) = claimed else {
                return Err(refuse(
                    "the upstream has no checksum sidecar (.sha1, .sha256, .sha512) to verify it against"
                        .to_owned(),
                ));
            };
            let digests = Digests::of(&bytes);
            verify_hex(&digests, algorithm, &expected).map_err(refuse)?;
            let pulled = pull_through::Pulled {
                here: key.clone(),
                owner,
                connection: connection_name.clone(),
                version: version.to_owned(),
                file: file_name.to_owned(),
                metadata: None,
            };
            pull_through::store(self.state, pulled, bytes, digests, |_, _, _| Ok(())).await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn put_file(
        &self,
        key: &PackageKey,
        version: &str,
        file: &ArtifactFile,
        body: crate::server::ingest::Spool,
    ) -> Result<Response, DataError> {
        if is_snapshot(version) && file.build.is_none() {
            return Err(DataError::bad_request(format!(
                "`{}` is a non-unique SNAPSHOT file; deploy timestamped SNAPSHOT builds (`{}-yyyyMMdd.HHmmss-N`), as Maven 3 does",
                file.name,
                version.trim_end_matches("-SNAPSHOT")
            )));
        }
        let size = body.size();
        let placed = self.state.store.put_spool(body).await?;
        let asset = AssetRow {
            name: file.name.clone(),
            size,
            digests: placed.digests.clone(),
        };
        let (lookup, version, file, now) = (
            key.clone(),
            version.to_owned(),
            file.clone(),
            self.state.clock.now(),
        );
        let outcome = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                Ok(add_file(connection, &lookup, &version, &file, &asset, now)?)
            })
            .await?;
        if matches!(
            outcome,
            Added::Conflict(_) | Added::Blocked | Added::GroupRefused(_)
        ) {
            self.state.store.discard(placed).await?;
        } else {
            drop(placed);
        }
        match outcome {
            Added::Created => Ok(StatusCode::CREATED.into_response()),
            Added::Unchanged => Ok(StatusCode::OK.into_response()),
            Added::Conflict(message) => Err(DataError::new(StatusCode::CONFLICT, message)),
            Added::Blocked => Err(DataError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "publishing {}:{} is blocked by its package origin configuration (publish=BLOCK)",
                    key.namespace, key.package
                ),
            )),
            Added::GroupRefused(message) => Err(DataError::new(
                StatusCode::FORBIDDEN,
                format!("{}:{}: {message}", key.namespace, key.package),
            )),
        }
    }

    async fn put_checksum(
        &self,
        key: &PackageKey,
        file: &ArtifactFile,
        algorithm: ChecksumAlgorithm,
        body: &[u8],
    ) -> Result<Response, DataError> {
        let claimed = std::str::from_utf8(body)
            .ok()
            .and_then(ChecksumAlgorithm::claimed_digest)
            .ok_or_else(|| {
                DataError::bad_request(format!(
                    "the body of `{}.{}` is not a hex digest",
                    file.name,
                    algorithm.extension()
                ))
            })?;
        let (lookup, name) = (key.clone(), file.name.clone());
        let found = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                Ok(store::find_asset(connection, &lookup, &name)?)
            })
            .await?;
        let Some((_, asset)) = found else {
            return Err(DataError::not_found(format!(
                "upload `{}` before its checksum",
                file.name
            )));
        };
        let actual = checksum_of(&asset.digests, algorithm);
        if claimed != actual {
            return Err(DataError::bad_request(format!(
                "checksum mismatch for `{}`: the {} sent is {claimed}, the stored file's is {actual}",
                file.name,
                algorithm.extension()
            )));
        }
        Ok(StatusCode::OK.into_response())
    }

    async fn put_artifact_metadata(
        &self,
        key: &PackageKey,
        body: &[u8],
    ) -> Result<Response, DataError> {
        let versions =
            listed_versions(body).map_err(|error| DataError::bad_request(error.to_string()))?;
        let lookup = key.clone();
        let published = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let transaction = store::write_transaction(connection)?;
                let mut published = Vec::new();
                for version in versions {
                    if let Some(row) = store::version(&transaction, &lookup, &version)?
                        && row.status == "Unfinished"
                    {
                        store::update_version_status(
                            &transaction,
                            row.id,
                            "Published",
                            &store::new_revision(),
                        )?;
                        published.push(version);
                    }
                }
                transaction.commit()?;
                Ok(published)
            })
            .await?;
        for version in &published {
            tracing::info!(group = %key.namespace, artifact = %key.package, %version, "maven version published");
        }
        Ok(StatusCode::CREATED.into_response())
    }
}

/// The versions an external connection of format `maven` lists for an artifact (its
/// artifact-level `maven-metadata.xml`).
struct ArtifactVersions<'a>(&'a PackageKey);

impl UpstreamAdapter for ArtifactVersions<'_> {
    const FORMAT: crate::format::Format = crate::format::Format::Maven;
    type Document = Vec<String>;

    async fn read(&self, upstream: &mut UpstreamReader<'_>) -> Result<Option<Vec<String>>, String> {
        let path = format!(
            "{}/{}/maven-metadata.xml",
            self.0.namespace.replace('.', "/"),
            self.0.package
        );
        let url = upstream.join(&path)?;
        let Some(body) = upstream
            .document(&url, "application/xml, text/xml", &path)
            .await?
        else {
            return Ok(None);
        };
        listed_versions(&body)
            .map(Some)
            .map_err(|error| upstream.invalid("maven-metadata.xml", error))
    }
}

/// Versions merged across a repository's sources.
struct MergedVersions {
    versions: Vec<String>,
    newest: f64,
    notes: Vec<String>,
    blocked_note: &'static str,
}

fn metadata(document: Vec<u8>) -> Served {
    let digests = Digests::of(&document);
    Served {
        bytes: Blob::Bytes(Bytes::from(document)),
        content_type: "text/xml",
        digests,
    }
}

/// What adding a file did.
enum Added {
    Created,
    Unchanged,
    Conflict(String),
    /// The package's origin controls block direct publishing.
    Blocked,
    /// Its package group does not allow publishing it here (why).
    GroupRefused(String),
}

fn version_or_insert(
    connection: &crate::server::index::Connection,
    key: &PackageKey,
    version: &str,
    status: &str,
    now: f64,
) -> Result<VersionRow, crate::server::index::Error> {
    if let Some(row) = store::version(connection, key, version)? {
        return Ok(row);
    }
    let mut row = VersionRow {
        id: 0,
        version: version.to_owned(),
        revision: store::new_revision(),
        status: status.to_owned(),
        published: now,
        metadata: None,
    };
    row.id = store::insert_version(connection, key, &row)?;
    Ok(row)
}

/// Add a file to its version in one transaction: refuse different bytes under an existing
/// name, rotate SNAPSHOT builds (older builds' files move to an `Unlisted` build version).
fn add_file(
    connection: &mut crate::server::index::Connection,
    key: &PackageKey,
    version: &str,
    file: &ArtifactFile,
    asset: &AssetRow,
    now: f64,
) -> Result<Added, crate::server::index::Error> {
    let transaction = store::write_transaction(connection)?;
    if let Some((row, existing)) = store::find_asset(&transaction, key, &asset.name)? {
        if existing.digests.sha256 == asset.digests.sha256 {
            return Ok(Added::Unchanged);
        }
        return Ok(Added::Conflict(format!(
            "`{}` already exists in {}:{}:{} with sha256 {}; this upload's sha256 is {} (published files cannot be overwritten)",
            asset.name,
            key.namespace,
            key.package,
            row.version,
            existing.digests.sha256,
            asset.digests.sha256
        )));
    }
    if store::version(&transaction, key, version)?.is_none() {
        match crate::server::packages::admit_publish(&transaction, key) {
            Ok(()) => {}
            Err(crate::server::packages::AdmitError::Blocked) => return Ok(Added::Blocked),
            Err(error @ crate::server::packages::AdmitError::Group(_)) => {
                return Ok(Added::GroupRefused(error.to_string()));
            }
            Err(crate::server::packages::AdmitError::Sqlite(error)) => return Err(error),
        }
    }
    let target = match &file.build {
        None => version_or_insert(&transaction, key, version, "Unfinished", now)?,
        Some(build) => {
            let snapshot = version_or_insert(&transaction, key, version, "Unfinished", now)?;
            let build_of = |asset: &AssetRow| {
                ArtifactFile::parse(&key.package, version, &asset.name)
                    .ok()
                    .and_then(|file| file.build)
            };
            let current = store::assets(&transaction, snapshot.id)?;
            if current
                .iter()
                .filter_map(build_of)
                .any(|newer| &newer > build)
            {
                // A late file of an older build joins that build's version.
                version_or_insert(
                    &transaction,
                    key,
                    &build.version_of(version),
                    "Unlisted",
                    now,
                )?
            } else {
                for old in &current {
                    if let Some(old_build) = build_of(old)
                        && &old_build < build
                    {
                        let retired = version_or_insert(
                            &transaction,
                            key,
                            &old_build.version_of(version),
                            "Unlisted",
                            now,
                        )?;
                        store::move_asset(&transaction, snapshot.id, retired.id, &old.name)?;
                        store::update_version_status(
                            &transaction,
                            retired.id,
                            &retired.status,
                            &store::new_revision(),
                        )?;
                    }
                }
                snapshot
            }
        }
    };
    if !READABLE.contains(&target.status.as_str()) {
        return Ok(Added::Conflict(format!(
            "{}:{}:{} is {}; no files can be added to it",
            key.namespace, key.package, target.version, target.status
        )));
    }
    store::insert_asset(&transaction, target.id, asset)?;
    store::update_version_status(
        &transaction,
        target.id,
        &target.status,
        &store::new_revision(),
    )?;
    transaction.commit()?;
    tracing::info!(group = %key.namespace, artifact = %key.package, version = %target.version, file = %asset.name, "maven file stored");
    Ok(Added::Created)
}
