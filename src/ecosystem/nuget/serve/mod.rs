//! The NuGet v3 data plane at `/d/{domain}/nuget/{repository}/`; clients use
//! `{endpoint}v3/index.json` as the package source, as `aws codeartifact login --tool nuget`
//! configures it.
//!
//! ```text
//! v3/index.json                                  service index
//! v3/package/{lowerid}/index.json                PackageBaseAddress/3.0.0: versions
//! v3/package/{lowerid}/{lowerver}/{lowerid}.{lowerver}.nupkg    package
//! v3/package/{lowerid}/{lowerver}/{lowerid}.nuspec              manifest (from the package)
//! v3/registration/{lowerid}/index.json           RegistrationsBaseUrl: one inlined page
//! v3/registration/{lowerid}/{lowerver}.json      registration leaf
//! v3/query?q=&skip=&take=&prerelease=&semVerLevel=              SearchQueryService
//! v2/package                                     PackagePublish/2.0.0: PUT multipart push
//! ```
//!
//! A pushed package is stored as one asset `<lowerid>.<lowerversion>.nupkg` of the version
//! `<lowerversion>` (normalized, build metadata stripped) of package `<lowerid>` with no
//! namespace, as CodeArtifact names NuGet packages; the nuspec fields (original-case id,
//! authors, description, dependency groups) live in the version metadata. Reads need `read`,
//! push needs `publish`; the repository token is accepted as Basic password (what nuget sends
//! from `packageSourceCredentials` after a `401` with a Basic challenge), as Bearer, and on
//! push as `X-NuGet-ApiKey`.
//!
//! Reads fall through to upstream repositories within the domain (versions, registration and
//! search merge them; a `.nupkg` or `.nuspec` requested here is retained here), then to
//! external NuGet v3 feeds ([`self::upstream`]): their versions appear in the flat
//! container and the registration, and a package is fetched, checked against the feed's
//! SHA-512, and stored on first download. Search covers what the domain holds.

pub mod upstream;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use self::upstream::UpstreamVersion;
use crate::ecosystem::nuget::{self, NuGetVersion, NupkgManifest};
use crate::server::AppState;
use crate::server::access::{self, Permission, Principal, iso8601};
use crate::server::data_plane::{DataPlane, DataRequest, Handling, data_request};
use crate::server::decode_segment as decode;
use crate::server::error::DataError;
use crate::server::packages;
use crate::server::pull_through;
use crate::server::store::{self, AssetRow, Blob, PackageKey, VersionRow};
use crate::server::upstream::{add_notes, with_notes};

/// Largest `take` a search honours.
const MAX_TAKE: usize = 1000;
/// Most zip entries a pushed package may have. nuget.org's largest packages (runtime packs)
/// have a few thousand; a package of a million empty entries costs its central directory
/// parse on every read.
pub const MAX_NUPKG_ENTRIES: u64 = 20_000;
/// Largest total uncompressed size a pushed package may declare, so a client extracting it
/// cannot be sent a zip bomb.
pub const MAX_NUPKG_UNCOMPRESSED_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// The version metadata field holding the SHA-256 of the `.nuspec` blob stored at push, so a
/// `.nuspec` read never parses the package again.
const NUSPEC_BLOB_FIELD: &str = "nuspecSha256";

/// Check a pushed package's zip bounds before anything parses its central directory: the
/// entry count from the end-of-central-directory record (its zip64 form when the 16-bit
/// count is saturated) at most [`MAX_NUPKG_ENTRIES`], then the declared uncompressed sizes
/// at most [`MAX_NUPKG_UNCOMPRESSED_BYTES`] in total.
///
/// A body that is not a zip passes: [`nuget::read_nupkg`] refuses it with its own reason.
///
/// # Errors
/// A message saying which bound the package breaks.
pub fn check_nupkg_bounds(bytes: &[u8]) -> Result<(), String> {
    check_nupkg_bounds_in(std::io::Cursor::new(bytes))
}

/// `count` bytes at offset `at`, if the reader has them.
fn read_at<R: std::io::Read + std::io::Seek>(
    reader: &mut R,
    at: u64,
    count: usize,
) -> Option<Vec<u8>> {
    reader.seek(std::io::SeekFrom::Start(at)).ok()?;
    let mut bytes = vec![0_u8; count];
    reader.read_exact(&mut bytes).ok()?;
    Some(bytes)
}

/// [`check_nupkg_bounds`] over a seekable reader (a package in its temp file): reads the
/// end-of-central-directory records and the central directory, not the entries.
///
/// # Errors
/// As [`check_nupkg_bounds`].
pub fn check_nupkg_bounds_in<R: std::io::Read + std::io::Seek>(
    mut reader: R,
) -> Result<(), String> {
    const END: u32 = 0x0605_4b50;
    const ZIP64_LOCATOR: u32 = 0x0706_4b50;
    const ZIP64_END: u32 = 0x0606_4b50;
    let u16_in = |bytes: &[u8], at: usize| {
        bytes
            .get(at..at + 2)
            .map(|field| u64::from(u16::from_le_bytes([field[0], field[1]])))
    };
    let u32_in = |bytes: &[u8], at: usize| {
        bytes
            .get(at..at + 4)
            .and_then(|field| field.try_into().ok())
            .map(|field| u64::from(u32::from_le_bytes(field)))
    };
    let u64_in = |bytes: &[u8], at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|field| field.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let length = reader
        .seek(std::io::SeekFrom::End(0))
        .map_err(|error| format!("unreadable: {error}"))?;
    // Not a zip at all: nothing to bound; `read_nupkg` says what is wrong with it.
    let Some(last) = length.checked_sub(22) else {
        return Ok(());
    };
    // The end record sits in the last 22 bytes plus a comment of at most 64 KiB.
    let tail_start = last.saturating_sub(u64::from(u16::MAX));
    let tail_length = usize::try_from(length - tail_start).unwrap_or(0);
    let tail = read_at(&mut reader, tail_start, tail_length).ok_or("unreadable zip tail")?;
    let Some(end) = (0..=usize::try_from(last - tail_start).unwrap_or(0))
        .rev()
        .find(|&at| u32_in(&tail, at) == Some(u64::from(END)))
    else {
        return Ok(());
    };
    let mut entries = u16_in(&tail, end + 10).unwrap_or(0);
    let end_offset = tail_start + end as u64;
    if entries == u64::from(u16::MAX)
        && let Some(locator_offset) = end_offset.checked_sub(20)
        && let Some(locator) = read_at(&mut reader, locator_offset, 20)
        && u32_in(&locator, 0) == Some(u64::from(ZIP64_LOCATOR))
    {
        let record = u64_in(&locator, 8)
            .and_then(|offset| read_at(&mut reader, offset, 56))
            .filter(|record| u32_in(record, 0) == Some(u64::from(ZIP64_END)))
            .ok_or("its zip64 end-of-central-directory record is missing")?;
        entries = u64_in(&record, 32).ok_or("its zip64 record is truncated")?;
    }
    if entries > MAX_NUPKG_ENTRIES {
        return Err(format!(
            "it has {entries} zip entries; at most {MAX_NUPKG_ENTRIES} are accepted"
        ));
    }
    let Ok(mut archive) = zip::ZipArchive::new(reader) else {
        return Ok(());
    };
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let size = archive
            .by_index_raw(index)
            .map_err(|error| format!("unreadable zip entry {index}: {error}"))?
            .size();
        total = total.saturating_add(size);
        if total > MAX_NUPKG_UNCOMPRESSED_BYTES {
            return Err(format!(
                "its entries declare more than {MAX_NUPKG_UNCOMPRESSED_BYTES} bytes uncompressed; at most that is accepted"
            ));
        }
    }
    Ok(())
}

/// What a path under the NuGet endpoint addresses.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    ServiceIndex,
    Versions {
        id: String,
    },
    Content {
        id: String,
        version: String,
        file: String,
    },
    RegistrationIndex {
        id: String,
    },
    RegistrationLeaf {
        id: String,
        version: String,
    },
    Search,
    Publish,
    PublishedItem {
        id: String,
        version: String,
    },
    Unsupported(String),
}

fn parse_target(rest: &str) -> Target {
    let segments: Vec<String> = rest.split('/').map(decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["v3", "index.json"] => Target::ServiceIndex,
        ["v3", "package", id, "index.json"] => Target::Versions {
            id: (*id).to_owned(),
        },
        ["v3", "package", id, version, file] => Target::Content {
            id: (*id).to_owned(),
            version: (*version).to_owned(),
            file: (*file).to_owned(),
        },
        ["v3", "registration", id, "index.json"] => Target::RegistrationIndex {
            id: (*id).to_owned(),
        },
        ["v3", "registration", id, leaf] if leaf.to_ascii_lowercase().ends_with(".json") => {
            Target::RegistrationLeaf {
                id: (*id).to_owned(),
                version: leaf[..leaf.len() - ".json".len()].to_owned(),
            }
        }
        ["v3", "query"] => Target::Search,
        ["v2", "package"] | ["v2", "package", ""] => Target::Publish,
        ["v2", "package", id, version] => Target::PublishedItem {
            id: (*id).to_owned(),
            version: (*version).to_owned(),
        },
        _ => Target::Unsupported(rest.to_owned()),
    }
}

/// An error response as NuGet clients show it: nuget.exe prints the status line's reason
/// phrase, so the message goes there as well as in the body; a `401` challenges with Basic
/// only (the scheme `packageSourceCredentials` answer).
fn error_response(error: DataError) -> Response {
    let status = error.status;
    let reason = format!(
        "{} - {}",
        status.canonical_reason().unwrap_or("Error"),
        error
            .message
            .chars()
            .filter(|character| !character.is_control())
            .take(300)
            .collect::<String>()
    );
    let mut response = error.into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"lading\""),
        );
    }
    if let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(reason.into_bytes()) {
        response.extensions_mut().insert(phrase);
    }
    response
}

/// The nuget data plane, as `lading serve` mounts it.
#[derive(Debug)]
pub struct NuGetDataPlane;

impl DataPlane for NuGetDataPlane {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Nuget
    }

    fn handle(&self, state: Arc<AppState>, request: Request) -> Handling {
        Box::pin(handle(State(state), request))
    }
}

/// Entry point for `/d/{domain}/nuget/{repository}/{*rest}`.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    // /d/{domain}/nuget/{repository}/{rest}
    let (domain, repository, rest) = crate::server::split_data_path(&path);
    tracing::debug!(
        method = %parts.method,
        uri = %parts.uri,
        authorization = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|value| value.to_str().ok()).and_then(|value| value.split_whitespace().next()).unwrap_or("-"),
        api_key = parts.headers.contains_key("x-nuget-apikey"),
        user_agent = parts.headers.get(axum::http::header::USER_AGENT).and_then(|value| value.to_str().ok()).unwrap_or("-"),
        "nuget request"
    );
    let request = NuGetRequest {
        request: DataRequest::new(&state, &parts.headers, domain, repository),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        notes: std::sync::Mutex::new(Vec::new()),
    };
    let target = parse_target(rest);
    let result = request.serve(&parts.method, target, body).await;
    let notes = request.take_notes();
    match result {
        Ok(mut response) => {
            add_notes(&mut response, &notes);
            response
        }
        Err(error) => {
            tracing::debug!(status = %error.status, message = %error.message, %path, "nuget request refused");
            let mut response = error_response(with_notes(error, &notes));
            add_notes(&mut response, &notes);
            response
        }
    }
}

/// A version as the read side sees it.
struct Listed {
    version: NuGetVersion,
    row: VersionRow,
    metadata: Value,
    asset: Option<AssetRow>,
    /// The repository holding it: this one or an upstream repository (for a version only
    /// an external feed has: the repository owning the connection).
    repository: String,
    /// Offered by an external feed and not held yet: the connection and what it lists.
    external: Option<(String, UpstreamVersion)>,
}

impl Listed {
    fn listed(&self) -> bool {
        self.row.status == "Published"
    }

    fn display_id(&self, fallback: &str) -> String {
        self.metadata
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or(fallback)
            .to_owned()
    }
}

data_request! {
    struct NuGetRequest {
        query: String,
        /// Upstream trouble to report in the response.
        notes: std::sync::Mutex<Vec<String>>,
    }
}

impl NuGetRequest<'_> {
    fn note(&self, note: String) {
        let mut notes = self
            .notes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !notes.contains(&note) {
            notes.push(note);
        }
    }

    fn take_notes(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .notes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    async fn serve(
        &self,
        method: &Method,
        target: Target,
        body: axum::body::Body,
    ) -> Result<Response, DataError> {
        let publishing = matches!(target, Target::Publish | Target::PublishedItem { .. });
        let principal = self.authenticate(publishing).await?;
        let principal = principal.as_ref();
        self.require_repository().await?;
        let read = || access::require(principal, &self.domain, &self.repository, Permission::Read);
        match (method.as_str(), target) {
            ("GET" | "HEAD", Target::ServiceIndex) => {
                read()?;
                Ok(self.service_index())
            }
            ("GET" | "HEAD", Target::Versions { id }) => {
                read()?;
                self.versions(&id).await
            }
            ("GET" | "HEAD", Target::Content { id, version, file }) => {
                read()?;
                self.content(&id, &version, &file).await
            }
            ("GET" | "HEAD", Target::RegistrationIndex { id }) => {
                read()?;
                self.registration_index(&id).await
            }
            ("GET" | "HEAD", Target::RegistrationLeaf { id, version }) => {
                read()?;
                self.registration_leaf(&id, &version).await
            }
            ("GET" | "HEAD", Target::Search) => {
                read()?;
                self.search().await
            }
            ("PUT" | "POST", Target::Publish) => {
                access::require(
                    principal,
                    &self.domain,
                    &self.repository,
                    Permission::Publish,
                )?;
                let limits = self.state.limits;
                let body = crate::server::ingest::spool(
                    self.state.store.tmp_dir(),
                    body,
                    limits.max_upload_bytes,
                    limits,
                )
                .await?;
                self.push(body, principal).await
            }
            (_, Target::PublishedItem { id, version }) => Err(DataError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "deleting or relisting `{id}` {version} over NuGet is not supported; use `aws codeartifact update-package-versions-status` or `delete-package-versions`"
                ),
            )),
            (_, Target::Unsupported(path)) => Err(DataError::not_found(format!(
                "`{path}` is not part of lading serve's NuGet v3 feed; use `v3/index.json` as the source"
            ))),
            (method, _) => Err(DataError::method_not_allowed(method)),
        }
    }

    /// The repository token from `Authorization`, or on push from `X-NuGet-ApiKey` (nuget
    /// sends `-ApiKey` there; a placeholder key falls back to the Basic credentials).
    async fn authenticate(&self, publishing: bool) -> Result<Option<Principal>, DataError> {
        let api_key = self
            .headers
            .get("x-nuget-apikey")
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|key| !key.is_empty());
        if publishing && let Some(key) = api_key {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&format!("Bearer {key}")) {
                headers.insert(axum::http::header::AUTHORIZATION, value);
            }
            match access::authenticate_token(self.state, &headers, &self.domain).await {
                Ok(Some(principal)) => return Ok(Some(principal)),
                Ok(None) => {}
                Err(error) => {
                    if !self.headers.contains_key(axum::http::header::AUTHORIZATION) {
                        return Err(DataError::new(
                            error.status,
                            format!(
                                "the API key is not a valid repository token: {}",
                                error.message
                            ),
                        ));
                    }
                }
            }
        }
        access::authenticate_token(self.state, self.headers, &self.domain).await
    }

    fn endpoint(&self) -> String {
        self.state.repository_endpoint(
            self.headers,
            &self.domain,
            crate::format::Format::Nuget,
            &self.repository,
        )
    }

    fn key(&self, lower_id: &str) -> PackageKey {
        self.package_key(
            crate::format::Format::Nuget,
            String::new(),
            lower_id.to_owned(),
        )
    }

    fn flat_base(&self) -> String {
        format!("{}v3/package/", self.endpoint())
    }

    fn registration_base(&self) -> String {
        format!("{}v3/registration/", self.endpoint())
    }

    fn package_content_url(&self, lower_id: &str, lower_version: &str) -> String {
        format!(
            "{}{lower_id}/{lower_version}/{}",
            self.flat_base(),
            nuget::nupkg_file_name(lower_id, lower_version)
        )
    }

    fn registration_index_url(&self, lower_id: &str) -> String {
        format!("{}{lower_id}/index.json", self.registration_base())
    }

    fn registration_leaf_url(&self, lower_id: &str, lower_version: &str) -> String {
        format!(
            "{}{lower_id}/{lower_version}.json",
            self.registration_base()
        )
    }

    fn service_index(&self) -> Response {
        let endpoint = self.endpoint();
        let mut resources = Vec::new();
        let mut add = |id: String, types: &[&str], comment: &str| {
            for kind in types {
                resources.push(json!({ "@id": id, "@type": kind, "comment": comment }));
            }
        };
        add(
            self.flat_base(),
            &["PackageBaseAddress/3.0.0"],
            "Base URL of the flat container: {id}/index.json, {id}/{version}/{id}.{version}.nupkg",
        );
        add(
            format!("{endpoint}v2/package"),
            &["PackagePublish/2.0.0"],
            "Push with PUT multipart/form-data",
        );
        add(
            self.registration_base(),
            &[
                "RegistrationsBaseUrl",
                "RegistrationsBaseUrl/3.0.0-beta",
                "RegistrationsBaseUrl/3.0.0-rc",
                "RegistrationsBaseUrl/3.4.0",
                "RegistrationsBaseUrl/3.6.0",
                "RegistrationsBaseUrl/Versioned",
            ],
            "Package metadata: {id}/index.json",
        );
        add(
            format!("{endpoint}v3/query"),
            &[
                "SearchQueryService",
                "SearchQueryService/3.0.0-beta",
                "SearchQueryService/3.0.0-rc",
                "SearchQueryService/3.5.0",
            ],
            "Search: ?q=&skip=&take=&prerelease=&semVerLevel=",
        );
        axum::Json(json!({ "version": "3.0.0", "resources": resources })).into_response()
    }

    /// Versions of a package that readers may see (Published = listed, Unlisted), sorted:
    /// this repository's, then its upstream repositories' (depth-first) unless the package's
    /// origin controls block upstreams; a version held in several is taken from the first.
    /// With `external`, versions only an external feed has are added (not for search, which
    /// would ask every feed about every package).
    async fn load(&self, lower_id: &str, external: bool) -> Result<Vec<Listed>, DataError> {
        let key = self.key(lower_id);
        let reader = access::reader(self.state, self.headers, &self.domain).await?;
        let (rows, externals) = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let sources = packages::read_sources(connection, &key, reader.as_ref())?;
                let mut rows: Vec<(String, VersionRow, Vec<AssetRow>)> = Vec::new();
                for (repository, row) in sources.held_versions(connection, &key)? {
                    if (row.status == "Published" || row.status == "Unlisted")
                        && !rows.iter().any(|(_, held, _)| held.version == row.version)
                    {
                        let assets = store::assets(connection, row.id)?;
                        rows.push((repository, row, assets));
                    }
                }
                Ok((rows, sources.externals))
            })
            .await?;
        let mut listed: Vec<Listed> = rows
            .into_iter()
            .filter_map(|(repository, row, assets)| {
                let metadata: Value = row
                    .metadata
                    .as_deref()
                    .and_then(|text| serde_json::from_str(text).ok())
                    .unwrap_or_else(|| json!({}));
                // The pushed version (original case, build metadata) when it is known.
                let version = metadata
                    .get("version")
                    .and_then(Value::as_str)
                    .and_then(|text| NuGetVersion::parse(text).ok())
                    .filter(|version| version.key() == row.version)
                    .or_else(|| NuGetVersion::parse(&row.version).ok())?;
                let file = nuget::nupkg_file_name(lower_id, &row.version);
                let asset = assets.into_iter().find(|asset| asset.name == file);
                Some(Listed {
                    version,
                    row,
                    metadata,
                    asset,
                    repository,
                    external: None,
                })
            })
            .collect();
        // Only well-formed ids go upstream (`..` would climb out of the feed's registration).
        if external && nuget::validate_id(lower_id).is_ok() {
            let upstream = pull_through::offers(
                self.state,
                &externals,
                &self::upstream::Registration(lower_id),
            )
            .await;
            for note in upstream.notes {
                self.note(note);
            }
            for offer in upstream.offers {
                for upstream in offer.document {
                    let version_key = upstream.version.key();
                    if listed.iter().any(|entry| entry.row.version == version_key) {
                        continue;
                    }
                    listed.push(Listed {
                        version: upstream.version.clone(),
                        row: VersionRow {
                            id: 0,
                            version: version_key,
                            revision: String::new(),
                            status: if upstream.listed {
                                "Published"
                            } else {
                                "Unlisted"
                            }
                            .to_owned(),
                            published: self.state.clock.now(),
                            metadata: None,
                        },
                        metadata: upstream.metadata.clone(),
                        asset: None,
                        repository: offer.owner.clone(),
                        external: Some((offer.connection.clone(), upstream)),
                    });
                }
            }
        }
        listed.sort_by(|left, right| left.version.cmp(&right.version));
        Ok(listed)
    }

    /// One version: from the domain when it holds it (no upstream request), else from the
    /// external feeds.
    async fn find_version(
        &self,
        lower_id: &str,
        lower_version: &str,
    ) -> Result<Option<Listed>, DataError> {
        for external in [false, true] {
            let found = self
                .load(lower_id, external)
                .await?
                .into_iter()
                .find(|entry| entry.row.version == lower_version);
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Fetch a version only an external feed has, verify it against the feed's SHA-512 and
    /// its own manifest, and store it in the repository owning the connection and here.
    async fn pull_through(
        &self,
        lower_id: &str,
        owner: &str,
        name: &str,
        upstream: &UpstreamVersion,
    ) -> Result<AssetRow, DataError> {
        let what = format!("`{lower_id}` {}", upstream.version.normalized());
        let refused = |message: String| pull_through::refused(name, &what, &message);
        let connection = pull_through::connection(self.state, name)?;
        let sha512 = self::upstream::package_hash(&self.state.externals, connection, upstream)
            .await
            .map_err(refused)?;
        let (bytes, digests) = pull_through::fetch_verified(
            self.state,
            connection,
            &what,
            &upstream.content,
            Some(("sha512", &sha512)),
        )
        .await?;
        let manifest = nuget::read_nupkg(&bytes)
            .map_err(|error| refused(format!("it is not a valid package: {error}")))?;
        if manifest.lower_id() != lower_id || manifest.version.key() != upstream.version.key() {
            return Err(refused(format!(
                "the package inside is `{}` {}",
                manifest.nuspec.id,
                manifest.version.normalized()
            )));
        }
        let pulled = pull_through::Pulled {
            here: self.key(lower_id),
            owner: owner.to_owned(),
            connection: name.to_owned(),
            version: upstream.version.key(),
            file: nuget::nupkg_file_name(lower_id, &upstream.version.key()),
            metadata: Some(version_metadata(&manifest, None).to_string()),
        };
        pull_through::store(self.state, pulled, bytes, digests, |_, _, _| Ok(())).await
    }

    fn not_found(&self, id: &str) -> DataError {
        DataError::not_found(format!(
            "package `{id}` not found in `{}/{}`",
            self.domain, self.repository
        ))
    }

    async fn versions(&self, id: &str) -> Result<Response, DataError> {
        let lower_id = id.to_lowercase();
        let listed = self.load(&lower_id, true).await?;
        if listed.is_empty() {
            return Err(self.not_found(id));
        }
        let versions: Vec<String> = listed
            .iter()
            .map(|entry| entry.row.version.clone())
            .collect();
        Ok(axum::Json(json!({ "versions": versions })).into_response())
    }

    async fn content(&self, id: &str, version: &str, file: &str) -> Result<Response, DataError> {
        let lower_id = id.to_lowercase();
        let lower_version = NuGetVersion::parse(version)
            .map_err(|_| DataError::not_found(format!("`{version}` is not a NuGet version")))?
            .key();
        let entry = self
            .find_version(&lower_id, &lower_version)
            .await?
            .ok_or_else(|| DataError::not_found(format!("package `{id}` {version} not found")))?;
        let asset = if let Some((name, upstream)) = &entry.external {
            // Stored here by the pull-through, with the connection's owner.
            self.pull_through(&lower_id, &entry.repository, name, upstream)
                .await?
        } else {
            entry.asset.ok_or_else(|| {
                DataError::not_found(format!("package `{id}` {version} has no .nupkg asset"))
            })?
        };
        if entry.external.is_none() && entry.repository != self.repository {
            // Requested through this repository: retain it here, as CodeArtifact does.
            pull_through::retain(
                self.state,
                &entry.repository,
                &self.key(&lower_id),
                &entry.row.version,
            )
            .await?;
        }
        let file = file.to_lowercase();
        let (blob, content_type) = if file == asset.name {
            (
                self.state
                    .store
                    .open_blob(asset.digests.sha256.clone())
                    .await?,
                "application/octet-stream",
            )
        } else if file == format!("{lower_id}.nuspec")
            && let Some(nuspec) = entry
                .metadata
                .get(NUSPEC_BLOB_FIELD)
                .and_then(Value::as_str)
        {
            (
                self.state.store.open_blob(nuspec.to_owned()).await?,
                "application/xml",
            )
        } else if file == format!("{lower_id}.nuspec") {
            let package = self
                .state
                .store
                .read_blob(asset.digests.sha256.clone())
                .await?;
            let nuspec = nuget::nuspec_bytes(&package).map_err(|error| {
                DataError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the stored package is unreadable: {error}"),
                )
            })?;
            (Blob::Bytes(Bytes::from(nuspec)), "application/xml")
        } else {
            return Err(DataError::not_found(format!(
                "`{file}` is not a file of package `{id}` {version}"
            )));
        };
        let mut response = blob.respond(self.headers);
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        Ok(response)
    }

    fn catalog_entry(&self, lower_id: &str, entry: &Listed) -> Value {
        let leaf_url = self.registration_leaf_url(lower_id, &entry.row.version);
        let metadata = &entry.metadata;
        let groups: Vec<Value> = metadata
            .get("dependencyGroups")
            .and_then(Value::as_array)
            .map(|groups| {
                groups
                    .iter()
                    .enumerate()
                    .map(|(index, group)| {
                        let group_url = format!("{leaf_url}#dependencygroup/{index}");
                        let dependencies: Vec<Value> = group
                            .get("dependencies")
                            .and_then(Value::as_array)
                            .map(|dependencies| {
                                dependencies
                                    .iter()
                                    .map(|dependency| {
                                        let id = dependency
                                            .get("id")
                                            .and_then(Value::as_str)
                                            .unwrap_or_default();
                                        json!({
                                            "@id": format!("{group_url}/{}", id.to_lowercase()),
                                            "@type": "PackageDependency",
                                            "id": id,
                                            "range": dependency.get("range").and_then(Value::as_str).unwrap_or("(, )"),
                                            "registration": self.registration_index_url(&id.to_lowercase()),
                                        })
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        let mut value = json!({
                            "@id": group_url,
                            "@type": "PackageDependencyGroup",
                            "dependencies": dependencies,
                        });
                        if let Some(framework) = group.get("targetFramework").and_then(Value::as_str) {
                            value["targetFramework"] = json!(framework);
                        }
                        value
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut catalog = json!({
            "@id": format!("{leaf_url}#catalogentry"),
            "@type": "PackageDetails",
            "id": entry.display_id(lower_id),
            "version": metadata.get("version").and_then(Value::as_str).map_or_else(|| entry.version.full(), ToOwned::to_owned),
            "listed": entry.listed(),
            "published": iso8601(entry.row.published),
            "packageContent": self.package_content_url(lower_id, &entry.row.version),
            "dependencyGroups": groups,
            "authors": metadata.get("authors").cloned().unwrap_or_else(|| json!("")),
            "description": metadata.get("description").cloned().unwrap_or_else(|| json!("")),
            "tags": metadata.get("tags").cloned().unwrap_or_else(|| json!([])),
        });
        // The SHA-512 a downstream lading serve (or any client) can verify the package with.
        let sha512 = entry.asset.as_ref().map_or_else(
            || {
                entry
                    .external
                    .as_ref()
                    .and_then(|(_, upstream)| upstream.sha512.clone())
            },
            |asset| Some(asset.digests.sha512.clone()),
        );
        if let Some(bytes) = sha512.and_then(|hex_text| hex::decode(hex_text).ok()) {
            catalog["packageHash"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
            catalog["packageHashAlgorithm"] = json!("SHA512");
        }
        for (field, target) in [
            ("title", "title"),
            ("summary", "summary"),
            ("projectUrl", "projectUrl"),
            ("licenseUrl", "licenseUrl"),
            ("license", "licenseExpression"),
        ] {
            if let Some(value) = metadata.get(field).filter(|value| !value.is_null()) {
                catalog[target] = value.clone();
            }
        }
        catalog
    }

    fn leaf(&self, lower_id: &str, entry: &Listed) -> Value {
        json!({
            "@id": self.registration_leaf_url(lower_id, &entry.row.version),
            "@type": "Package",
            "catalogEntry": self.catalog_entry(lower_id, entry),
            "packageContent": self.package_content_url(lower_id, &entry.row.version),
            "registration": self.registration_index_url(lower_id),
        })
    }

    async fn registration_index(&self, id: &str) -> Result<Response, DataError> {
        let lower_id = id.to_lowercase();
        let listed = self.load(&lower_id, true).await?;
        let (Some(first), Some(last)) = (listed.first(), listed.last()) else {
            return Err(self.not_found(id));
        };
        let index_url = self.registration_index_url(&lower_id);
        let items: Vec<Value> = listed
            .iter()
            .map(|entry| self.leaf(&lower_id, entry))
            .collect();
        let (lower, upper) = (first.version.normalized(), last.version.normalized());
        let page = json!({
            "@id": format!("{index_url}#page/{}/{}", first.row.version, last.row.version),
            "@type": "catalog:CatalogPage",
            "count": items.len(),
            "lower": lower,
            "upper": upper,
            "parent": index_url,
            "items": items,
        });
        Ok(axum::Json(json!({
            "@id": index_url,
            "@type": ["catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"],
            "count": 1,
            "items": [page],
        }))
        .into_response())
    }

    async fn registration_leaf(&self, id: &str, version: &str) -> Result<Response, DataError> {
        let lower_id = id.to_lowercase();
        let lower_version = NuGetVersion::parse(version)
            .map_err(|_| DataError::not_found(format!("`{version}` is not a NuGet version")))?
            .key();
        let entry = self
            .find_version(&lower_id, &lower_version)
            .await?
            .ok_or_else(|| DataError::not_found(format!("package `{id}` {version} not found")))?;
        let mut leaf = self.leaf(&lower_id, &entry);
        leaf["listed"] = json!(entry.listed());
        leaf["published"] = json!(iso8601(entry.row.published));
        Ok(axum::Json(leaf).into_response())
    }

    async fn search(&self) -> Result<Response, DataError> {
        let mut text = String::new();
        let mut skip = 0_usize;
        let mut take = 20_usize;
        let mut prerelease = false;
        let mut semver2 = false;
        for (name, value) in url::form_urlencoded::parse(self.query.as_bytes()) {
            match name.as_ref() {
                "q" => text = value.trim().to_owned(),
                "skip" => skip = value.parse().unwrap_or(0),
                "take" => take = value.parse::<usize>().unwrap_or(20).min(MAX_TAKE),
                "prerelease" => prerelease = value.eq_ignore_ascii_case("true"),
                "semVerLevel" => semver2 = value.starts_with('2'),
                _ => {}
            }
        }
        let (domain, repository) = (self.domain.clone(), self.repository.clone());
        let reader = access::reader(self.state, self.headers, &self.domain).await?;
        let names = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                // Every package in this repository and the upstream repositories the reader
                // may read; `load` applies each package's origin controls.
                let mut names: Vec<store::PackageSummary> = Vec::new();
                let readable = |source: &String| {
                    *source == repository
                        || reader.as_ref().is_some_and(|reader| {
                            reader.allows(&domain, Some(source), Permission::Read)
                        })
                };
                for source in packages::search_order(connection, &domain, &repository)?
                    .into_iter()
                    .filter(readable)
                {
                    for summary in store::packages(
                        connection,
                        &domain,
                        &source,
                        Some("nuget"),
                        Some(""),
                        None,
                    )? {
                        if !names.iter().any(|known| known.package == summary.package) {
                            names.push(summary);
                        }
                    }
                }
                names.sort_by(|left, right| left.package.cmp(&right.package));
                Ok(names)
            })
            .await?;
        let query = SearchQuery::parse(&text);
        let mut hits = Vec::new();
        for summary in names {
            let listed: Vec<Listed> = self
                .load(&summary.package, false)
                .await?
                .into_iter()
                .filter(Listed::listed)
                .filter(|entry| prerelease || !entry.version.is_prerelease())
                .filter(|entry| semver2 || !entry.version.is_semver2())
                .collect();
            let Some(latest) = listed.last() else {
                continue;
            };
            if !query.matches(&summary.package, &latest.metadata) {
                continue;
            }
            hits.push(self.search_hit(&summary.package, &listed, latest));
        }
        let total = hits.len();
        let data: Vec<Value> = hits.into_iter().skip(skip).take(take).collect();
        Ok(axum::Json(json!({ "totalHits": total, "data": data })).into_response())
    }

    fn search_hit(&self, lower_id: &str, listed: &[Listed], latest: &Listed) -> Value {
        let metadata = &latest.metadata;
        let string = |field: &str| {
            metadata
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let versions: Vec<Value> = listed
            .iter()
            .map(|entry| {
                json!({
                    "version": entry.version.full(),
                    "downloads": 0,
                    "@id": self.registration_leaf_url(lower_id, &entry.row.version),
                })
            })
            .collect();
        let mut hit = json!({
            "@id": self.registration_index_url(lower_id),
            "@type": "Package",
            "registration": self.registration_index_url(lower_id),
            "id": latest.display_id(lower_id),
            "version": latest.version.full(),
            "description": string("description"),
            "summary": string("summary"),
            "title": string("title"),
            "authors": [string("authors")],
            "tags": metadata.get("tags").cloned().unwrap_or_else(|| json!([])),
            "totalDownloads": 0,
            "verified": false,
            "packageTypes": [{ "name": "Dependency" }],
            "versions": versions,
        });
        for field in ["projectUrl", "licenseUrl"] {
            if let Some(value) = metadata.get(field).filter(|value| !value.is_null()) {
                hit[field] = value.clone();
            }
        }
        hit
    }

    async fn push(
        &self,
        body: crate::server::ingest::Spool,
        principal: Option<&Principal>,
    ) -> Result<Response, DataError> {
        let content_type = self
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let tmp = self.state.store.tmp_dir().to_path_buf();
        let limits = self.state.limits;
        // The package is read from its temp file: the zip's directory and the `.nuspec`,
        // never the whole package in memory.
        let checked = crate::server::ingest::blocking(move || {
            let package = if content_type.to_ascii_lowercase().starts_with("multipart/") {
                let reader = std::io::BufReader::new(body.reader()?);
                match first_multipart_part(&content_type, reader, &tmp, limits) {
                    Ok(package) => package,
                    Err(message) => {
                        return Ok(Err(format!(
                            "cannot read the multipart push body: {message}"
                        )));
                    }
                }
            } else {
                body
            };
            if package.size() == 0 {
                return Ok(Err("the push carries no package".to_owned()));
            }
            if let Err(message) = check_nupkg_bounds_in(std::io::BufReader::new(package.reader()?))
            {
                return Ok(Err(format!("invalid package: {message}")));
            }
            let reader = std::io::BufReader::new(package.reader()?);
            Ok(match nuget::read_nupkg_from(reader) {
                Ok(manifest) => Ok((package, manifest)),
                Err(error) => Err(format!(
                    "invalid package: {}",
                    crate::diagnostics::one_line(&error)
                )),
            })
        })
        .await?;
        let (package, manifest) = checked.map_err(DataError::bad_request)?;
        let key = self.key(&manifest.lower_id());
        let version_key = manifest.version.key();
        let conflict = |manifest: &NupkgManifest| {
            DataError::new(
                StatusCode::CONFLICT,
                format!(
                    "package `{}` version {} already exists in `{}/{}`; versions are immutable",
                    manifest.nuspec.id,
                    manifest.version.normalized(),
                    self.domain,
                    self.repository
                ),
            )
        };
        let (lookup, wanted) = (key.clone(), version_key.clone());
        let exists = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                Ok(store::version(connection, &lookup, &wanted)?.is_some())
            })
            .await?;
        if exists {
            return Err(conflict(&manifest));
        }
        let size = package.size();
        let placed = self.state.store.put_spool(package).await?;
        let asset = AssetRow {
            name: manifest.file_name(),
            size,
            digests: placed.digests.clone(),
        };
        // The `.nuspec` is parsed out once, here, and served from its own blob.
        let nuspec = self
            .state
            .store
            .put_blob(Bytes::from(manifest.nuspec_bytes.clone()))
            .await?;
        let mut metadata = version_metadata(&manifest, principal);
        metadata[NUSPEC_BLOB_FIELD] = json!(nuspec.digests.sha256);
        let row = VersionRow {
            id: 0,
            version: version_key.clone(),
            revision: store::new_revision(),
            status: "Published".to_owned(),
            published: self.state.clock.now(),
            metadata: Some(metadata.to_string()),
        };
        let inserted = self
            .state
            .store
            .with(
                move |connection| -> Result<Result<(), Option<String>>, DataError> {
                    Ok(crate::server::packages::publish_new_version(
                        connection, &key, &row, &asset,
                    )?)
                },
            )
            .await?;
        if inserted.is_err() {
            self.state.store.discard(placed).await?;
            self.state.store.discard(nuspec).await?;
        } else {
            drop((placed, nuspec));
        }
        match inserted {
            Ok(()) => {}
            Err(None) => return Err(conflict(&manifest)),
            Err(Some(why)) => {
                return Err(DataError::new(
                    StatusCode::FORBIDDEN,
                    format!("publishing {} {why}", manifest.nuspec.id),
                ));
            }
        }
        tracing::info!(package = %manifest.nuspec.id, version = %version_key, "nuget push");
        Ok((
            StatusCode::CREATED,
            axum::Json(json!({ "id": manifest.nuspec.id, "version": version_key })),
        )
            .into_response())
    }
}

/// The version metadata JSON kept for a pushed package: the nuspec fields the feed serves,
/// under the names DescribePackageVersion reads (`description`, `homepage`, `license`).
fn version_metadata(manifest: &NupkgManifest, principal: Option<&Principal>) -> Value {
    let nuspec = &manifest.nuspec;
    let groups: Vec<Value> = nuspec
        .dependency_groups
        .iter()
        .map(|group| {
            json!({
                "targetFramework": group.target_framework,
                "dependencies": group.dependencies.iter().map(|dependency| json!({ "id": dependency.id, "range": dependency.range })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "id": nuspec.id,
        "version": manifest.version.full(),
        "originalVersion": nuspec.version,
        "authors": nuspec.authors,
        "description": nuspec.description,
        "title": nuspec.title,
        "summary": nuspec.summary,
        "tags": nuspec.tags,
        "projectUrl": nuspec.project_url,
        "homepage": nuspec.project_url,
        "licenseUrl": nuspec.license_url,
        "license": nuspec.license_expression,
        "dependencyGroups": groups,
        "pushedBy": principal.map(|principal| principal.name.clone()),
    })
}

/// A search query: whitespace-separated terms, each of which must occur (case-insensitively)
/// in the id, title, description, tags or authors; `packageid:X` asks for one id exactly.
struct SearchQuery {
    exact_id: Option<String>,
    terms: Vec<String>,
}

impl SearchQuery {
    fn parse(text: &str) -> Self {
        let mut exact_id = None;
        let mut terms = Vec::new();
        for term in text.split_whitespace() {
            let lower = term.to_lowercase();
            if let Some(id) = lower.strip_prefix("packageid:") {
                exact_id = Some(id.to_owned());
            } else {
                terms.push(lower.strip_prefix("id:").unwrap_or(&lower).to_owned());
            }
        }
        Self { exact_id, terms }
    }

    fn matches(&self, lower_id: &str, metadata: &Value) -> bool {
        if self.exact_id.as_deref().is_some_and(|id| id != lower_id) {
            return false;
        }
        let mut haystack = lower_id.to_owned();
        for field in ["title", "description", "authors", "summary"] {
            if let Some(value) = metadata.get(field).and_then(Value::as_str) {
                haystack.push('\n');
                haystack.push_str(&value.to_lowercase());
            }
        }
        if let Some(tags) = metadata.get("tags").and_then(Value::as_array) {
            for tag in tags.iter().filter_map(Value::as_str) {
                haystack.push('\n');
                haystack.push_str(&tag.to_lowercase());
            }
        }
        self.terms
            .iter()
            .all(|term| haystack.contains(term.as_str()))
    }
}

/// The content of the first part of a `multipart/form-data` body (where NuGet puts the
/// package), read from `reader` into a temp file in `tmp`.
fn first_multipart_part(
    content_type: &str,
    reader: impl std::io::Read,
    tmp: &std::path::Path,
    limits: crate::server::ingest::Limits,
) -> Result<crate::server::ingest::Spool, String> {
    let boundary = content_type
        .split(';')
        .filter_map(|parameter| parameter.trim().split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .filter(|boundary| !boundary.is_empty())
        .ok_or("the Content-Type has no boundary")?;
    let parts = crate::server::multipart::parse_stream(
        reader,
        &boundary,
        tmp,
        limits.max_upload_bytes,
        limits.max_metadata_bytes,
        |_, _| true,
    )
    .map_err(|error| error.to_string())?;
    match parts.into_iter().next().map(|part| part.content) {
        Some(crate::server::multipart::StreamedContent::File(spool)) => Ok(*spool),
        Some(crate::server::multipart::StreamedContent::Field(_)) | None => {
            Err("the body has no parts".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_parsed_from_raw_paths() {
        assert_eq!(parse_target("v3/index.json"), Target::ServiceIndex);
        assert_eq!(
            parse_target("v3/package/acme.widget/index.json"),
            Target::Versions {
                id: "acme.widget".into()
            }
        );
        assert_eq!(
            parse_target("v3/package/acme.widget/1.0.0/acme.widget.1.0.0.nupkg"),
            Target::Content {
                id: "acme.widget".into(),
                version: "1.0.0".into(),
                file: "acme.widget.1.0.0.nupkg".into()
            }
        );
        assert_eq!(
            parse_target("v3/registration/acme.widget/1.0.0-beta.json"),
            Target::RegistrationLeaf {
                id: "acme.widget".into(),
                version: "1.0.0-beta".into()
            }
        );
        assert_eq!(parse_target("v3/query"), Target::Search);
        assert_eq!(parse_target("v2/package"), Target::Publish);
        assert_eq!(parse_target("v2/package/"), Target::Publish);
        assert_eq!(
            parse_target("v2/package/A/1.0"),
            Target::PublishedItem {
                id: "A".into(),
                version: "1.0".into()
            }
        );
        assert!(matches!(
            parse_target("api/v2/Packages()"),
            Target::Unsupported(_)
        ));
    }

    #[test]
    fn the_first_multipart_part_is_the_package() {
        let body = b"--XyZ\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=package; filename=package.nupkg\r\n\r\nPK\x03\x04\r\n--data--\r\n--XyZ\r\nContent-Disposition: form-data; name=other\r\n\r\nx\r\n--XyZ--\r\n";
        let dir = tempfile::tempdir().unwrap();
        let limits = crate::server::ingest::Limits::default();
        let first_multipart_part = |content_type: &str, body: &[u8]| {
            first_multipart_part(content_type, body, dir.path(), limits)
                .map(|spool| spool.read_all().unwrap())
        };
        assert_eq!(
            first_multipart_part("multipart/form-data; boundary=\"XyZ\"", body).unwrap(),
            b"PK\x03\x04\r\n--data--"
        );
        assert_eq!(
            first_multipart_part("multipart/form-data; boundary=XyZ", body).unwrap(),
            b"PK\x03\x04\r\n--data--"
        );
        for (content_type, body) in [
            ("multipart/form-data", &body[..]),
            ("multipart/form-data; boundary=Other", &body[..]),
            ("multipart/form-data; boundary=XyZ", b"--XyZ--\r\n"),
            (
                "multipart/form-data; boundary=XyZ",
                b"--XyZ\r\n\r\nunterminated",
            ),
        ] {
            assert!(
                first_multipart_part(content_type, body).is_err(),
                "{content_type}"
            );
        }
    }

    #[test]
    fn search_terms_match_id_and_metadata() {
        let metadata = json!({ "title": "Widget", "description": "Makes widgets", "tags": ["gadget"], "authors": "Acme" });
        assert!(SearchQuery::parse("").matches("acme.widget", &metadata));
        assert!(SearchQuery::parse("WIDGET acme").matches("acme.widget", &metadata));
        assert!(SearchQuery::parse("gadget").matches("acme.widget", &metadata));
        assert!(!SearchQuery::parse("widget other").matches("acme.widget", &metadata));
        assert!(SearchQuery::parse("packageid:Acme.Widget").matches("acme.widget", &metadata));
        assert!(!SearchQuery::parse("packageid:Acme").matches("acme.widget", &metadata));
    }
}
