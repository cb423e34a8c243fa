//! The PyPI data plane at `/d/{domain}/pypi/{repository}/` (the endpoint E that
//! `GetRepositoryEndpoint` returns for `pypi`).
//!
//! ```text
//! POST E                                   twine upload (legacy API, `:action=file_upload`)
//! GET  E simple/                           project list (PEP 503 HTML or PEP 691 JSON)
//! GET  E simple/{project}/                 project page; other spellings redirect here
//! GET  E files/{project}/{version}/{file}  a distribution file (`Range` requests answered)
//! GET  E files/{project}/{version}/{file}.metadata   its core metadata (PEP 658)
//! ```
//!
//! Every request needs a repository token (HTTP Basic `aws:<token>`, what pip and twine
//! send; Bearer works too): reads need `read`, uploads `publish`. A request without
//! credentials gets 401 with a Basic-only challenge so pip retries with netrc or keyring.
//! Each uploaded file becomes an asset of the version (format `pypi`, no namespace, package
//! = the PEP 503 normalized name); per-file facts (requires-python, upload time, yanked, the
//! sha256 of the wheel's `METADATA` blob) live in the version's metadata JSON under `files`.
//! Pages say what a client needs in both renderings: PEP 592 yanked with the reason, PEP 700
//! `upload-time`, `size` and `versions`, PEP 658 / 714 core metadata, `requires-python`.
//!
//! Reads fall through to upstream repositories and external connections (see
//! `packages::read_sources`): a project page merges every file they offer (an upstream
//! simple index answering PEP 691 JSON or PEP 503 HTML, read by the shared parser in
//! `ecosystem::pypi::simple`, every fact it states about a file kept as it wrote it), and a
//! download of a file held elsewhere retains it here; one from an external connection is
//! fetched, checked against the upstream's sha256 (no sha256: refused, nothing stored), and
//! recorded with EXTERNAL origin in the repository owning the connection and here. Errors carry their message in the HTTP reason
//! phrase too, because twine prints the reason (as PyPI's `400 File already exists`) and
//! shows the body only with `--verbose`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use blake2::Digest as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

use crate::archive::Digests;
use crate::ecosystem::pypi::simple::{PageFile, ProjectPage, parse_project_page};
use crate::ecosystem::pypi::{
    DistributionFile, SIMPLE_API_VERSION, SimpleFormat, is_valid_name, metadata_field, negotiate,
    normalize_name, wheel_metadata,
};
use crate::server::AppState;
use crate::server::access::{self, Permission, Principal};
use crate::server::data_plane::{DataPlane, DataRequest, Handling, data_request};
use crate::server::decode_segment as decode;
use crate::server::error::DataError;
use crate::server::multipart;
use crate::server::packages;
use crate::server::pull_through::{self, UpstreamAdapter, UpstreamReader};
use crate::server::store::{self, AssetRow, PackageKey, VersionRow};
use crate::server::upstream::{add_notes, with_notes};

/// Characters left unescaped in a path segment we generate.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Form fields that are not core metadata (transport, digests, file facts).
const NON_METADATA_FIELDS: &[&str] = &[
    ":action",
    "protocol_version",
    "content",
    "name",
    "version",
    "filetype",
    "pyversion",
    "comment",
    "sha256_digest",
    "md5_digest",
    "blake2_256_digest",
    "gpg_signature",
    "attestations",
];

/// Core-metadata fields that are lists even when sent once.
const LIST_FIELDS: &[&str] = &[
    "classifiers",
    "requires_dist",
    "provides_dist",
    "obsoletes_dist",
    "requires_external",
    "project_urls",
    "platform",
    "supported_platform",
    "provides_extra",
    "dynamic",
    "license_file",
];

/// Statuses whose files can be downloaded.
const DOWNLOADABLE: &[&str] = &["Published", "Unlisted"];

/// What a path under the PyPI endpoint addresses.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// The endpoint itself: upload (`POST`).
    Root,
    /// `simple` or `simple/`.
    ProjectList {
        slash: bool,
    },
    /// `simple/{name}` or `simple/{name}/`.
    Project {
        name: String,
        slash: bool,
    },
    /// `files/{project}/{version}/{file}`.
    File {
        project: String,
        version: String,
        file: String,
    },
    Unsupported(String),
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

fn parse_target(rest: &str) -> Target {
    if rest.is_empty() || rest == "legacy/" || rest == "legacy" {
        return Target::Root;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        ["simple"] => Target::ProjectList { slash: false },
        ["simple", ""] => Target::ProjectList { slash: true },
        ["simple", name] if !name.is_empty() => Target::Project {
            name: decode(name),
            slash: false,
        },
        ["simple", name, ""] if !name.is_empty() => Target::Project {
            name: decode(name),
            slash: true,
        },
        ["files", project, version, file]
            if !project.is_empty() && !version.is_empty() && !file.is_empty() =>
        {
            Target::File {
                project: decode(project),
                version: decode(version),
                file: decode(file),
            }
        }
        _ => Target::Unsupported(rest.to_owned()),
    }
}

/// The pypi data plane, as `lading serve` mounts it.
#[derive(Debug)]
pub struct PypiDataPlane;

impl DataPlane for PypiDataPlane {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Pypi
    }

    fn handle(&self, state: Arc<AppState>, request: Request) -> Handling {
        Box::pin(handle(State(state), request))
    }

    fn serves_endpoint_itself(&self) -> bool {
        true
    }
}

/// Entry point for `/d/{domain}/pypi/{repository}/` and everything below it.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    // /d/{domain}/pypi/{repository}/{rest}
    let (domain, repository, rest) = crate::server::split_data_path(&path);
    let request = PypiRequest {
        request: DataRequest::new(&state, &parts.headers, domain, repository),
    };
    let target = parse_target(rest);
    match request.serve(&parts.method, target, body).await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(status = %error.status, message = %error.message, %path, "pypi request refused");
            error_response(error)
        }
    }
}

/// A [`DataError`] as PyPI clients want it: the message also in the reason phrase, and a
/// Basic-only challenge on 401 (pip answers a challenge with netrc or keyring credentials).
fn error_response(error: DataError) -> Response {
    let reason: String = error
        .message
        .chars()
        .map(|character| {
            if character.is_ascii_graphic() || character == ' ' {
                character
            } else {
                '?'
            }
        })
        .take(300)
        .collect();
    let status = error.status;
    let mut response = error.into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"lading\""),
        );
    }
    if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(reason.into_bytes()) {
        response.extensions_mut().insert(reason);
    }
    response
}

data_request! {
    struct PypiRequest {}
}

/// One file of a version as the simple API shows it.
struct FileEntry {
    file: String,
    version: String,
    url: String,
    /// Hashes by algorithm (sha256 at least for files held here).
    hashes: BTreeMap<String, String>,
    size: Option<u64>,
    requires_python: Option<String>,
    /// PEP 700 `upload-time` text.
    upload_time: Option<String>,
    /// PEP 592: `None` when not yanked, else the reason (possibly empty).
    yanked: Option<String>,
    /// The sha256 of the PEP 658 `<file>.metadata` this server can serve, if any.
    core_metadata: Option<String>,
    source: FileSource,
}

/// Where a listed file lives.
enum FileSource {
    /// Held by this repository or one of its upstream repositories.
    Repository(String),
    /// Offered by the external connection `connection`, owned by repository `owner`.
    External {
        owner: String,
        connection: String,
        url: url::Url,
        sha256: Option<String>,
    },
}

/// The files a repository can serve for a project.
struct View {
    files: Vec<FileEntry>,
    /// PEP 700 `versions`: every upstream page's list, then the versions of the files.
    versions: Vec<String>,
    notes: Vec<String>,
    upstream_blocked: bool,
}

/// An external connection's project page, as fetched for a view.
struct ExternalPage {
    owner: String,
    connection: String,
    page: ProjectPage,
}

/// What lading asks an upstream simple index for: PEP 691 JSON, else HTML.
const UPSTREAM_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

fn file_url(endpoint: &str, normalized: &str, version: &str, file: &str) -> String {
    format!(
        "{endpoint}files/{}/{}/{}",
        encode(normalized),
        encode(version),
        encode(file)
    )
}

/// The version in a distribution file name of project `normalized`.
fn file_version(normalized: &str, file: &str) -> Option<String> {
    match DistributionFile::parse(file).ok()? {
        DistributionFile::Wheel { name, version, .. } => {
            (normalize_name(&name) == normalized).then_some(version)
        }
        DistributionFile::Sdist { stem } => stem
            .match_indices('-')
            .find(|(index, _)| normalize_name(&stem[..*index]) == normalized)
            .map(|(index, _)| stem[index + 1..].to_owned())
            .filter(|version| !version.is_empty()),
    }
}

impl PypiRequest<'_> {
    async fn serve(
        &self,
        method: &Method,
        target: Target,
        body: axum::body::Body,
    ) -> Result<Response, DataError> {
        let principal = access::authenticate_token(self.state, self.headers, &self.domain).await?;
        let principal = principal.as_ref();
        let permission = if *method == Method::POST {
            Permission::Publish
        } else {
            Permission::Read
        };
        access::require(principal, &self.domain, &self.repository, permission)?;
        self.require_repository().await?;
        match (method.as_str(), target) {
            ("POST", Target::Root) => {
                let limits = self.state.limits;
                let body = crate::server::ingest::spool(
                    self.state.store.tmp_dir(),
                    body,
                    limits.max_upload_bytes,
                    limits,
                )
                .await?;
                self.upload(body, principal).await
            }
            ("GET" | "HEAD", Target::Root | Target::ProjectList { slash: false }) => {
                Ok(self.redirect("simple/"))
            }
            ("GET" | "HEAD", Target::ProjectList { slash: true }) => self.project_list().await,
            ("GET" | "HEAD", Target::Project { name, slash }) => {
                let normalized = normalize_name(&name);
                if !slash || normalized != name {
                    return Ok(self.redirect(&format!("simple/{}/", encode(&normalized))));
                }
                self.project_page(&normalized).await
            }
            (
                "GET" | "HEAD",
                Target::File {
                    project,
                    version,
                    file,
                },
            ) => {
                self.download(&normalize_name(&project), &version, &file)
                    .await
            }
            (_, Target::Unsupported(path)) => Err(DataError::not_found(format!(
                "`{path}` is not part of lading serve's PyPI repository (see `simple/`)"
            ))),
            (method, _) => Err(DataError::method_not_allowed(method)),
        }
    }

    fn endpoint(&self) -> String {
        self.state.repository_endpoint(
            self.headers,
            &self.domain,
            crate::format::Format::Pypi,
            &self.repository,
        )
    }

    fn redirect(&self, relative: &str) -> Response {
        let location = format!("{}{relative}", self.endpoint());
        let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        response
    }

    fn key(&self, normalized: &str) -> PackageKey {
        self.package_key(
            crate::format::Format::Pypi,
            String::new(),
            normalized.to_owned(),
        )
    }

    fn negotiate(&self) -> Result<SimpleFormat, DataError> {
        let accept = self
            .headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok());
        negotiate(accept).ok_or_else(|| {
            DataError::new(
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "none of the accepted types is served; ask for `{}` or `text/html`",
                    crate::ecosystem::pypi::SIMPLE_JSON_V1
                ),
            )
        })
    }

    async fn project_list(&self) -> Result<Response, DataError> {
        let format = self.negotiate()?;
        let (domain, repository) = (self.domain.clone(), self.repository.clone());
        let key = self.key("");
        let projects = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let mut projects = Vec::new();
                for summary in store::packages(
                    connection,
                    &domain,
                    &repository,
                    Some("pypi"),
                    Some(""),
                    None,
                )? {
                    let key = PackageKey {
                        package: summary.package.clone(),
                        ..key.clone()
                    };
                    let published: Vec<VersionRow> = store::versions(connection, &key)?
                        .into_iter()
                        .filter(|row| row.status == "Published")
                        .collect();
                    if let Some(latest) = published.last() {
                        projects.push((summary.package, display_name(latest)));
                    }
                }
                Ok(projects)
            })
            .await?;
        let body = match format {
            SimpleFormat::Json => json!({
                "meta": { "api-version": SIMPLE_API_VERSION },
                "projects": projects.iter().map(|(_, name)| json!({ "name": name })).collect::<Vec<_>>(),
            })
            .to_string(),
            SimpleFormat::Html(_) => {
                let mut html = page_head("Simple index");
                for (normalized, name) in &projects {
                    let _ = writeln!(
                        html,
                        "    <a href=\"{}/\">{}</a><br/>",
                        escape_html(&encode(normalized)),
                        escape_html(name)
                    );
                }
                html.push_str("  </body>\n</html>\n");
                html
            }
        };
        Ok(simple_response(format, body))
    }

    /// Every file this repository can serve for a project: its own, its upstream
    /// repositories' (depth-first), then its external connections' (unless origin controls
    /// block upstreams), each file name once; plus upstream trouble to report.
    ///
    /// A file held here that came from an external connection shows what that connection's
    /// page says about it now (yanked, upload time, requires-python, hashes), when the page
    /// lists the same file with the same sha256: a release yanked upstream after it was
    /// pulled through reads as yanked here too. When the page cannot be had, the facts
    /// recorded when the file was pulled through stand in.
    async fn view(&self, normalized: &str) -> Result<View, DataError> {
        let key = self.key(normalized);
        let endpoint = self.endpoint();
        let reader = access::reader(self.state, self.headers, &self.domain).await?;
        let (sources, held) = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let sources = packages::read_sources(connection, &key, reader.as_ref())?;
                let mut held = Vec::new();
                for (repository, row) in sources.held_versions(connection, &key)? {
                    if row.status == "Published" {
                        let assets = store::assets(connection, row.id)?;
                        let origin = packages::version_origin(connection, row.id)?
                            .and_then(|origin| origin.external_connection);
                        held.push((repository, row, assets, origin));
                    }
                }
                Ok((sources, held))
            })
            .await?;
        let mut view = View {
            files: Vec::new(),
            versions: Vec::new(),
            notes: Vec::new(),
            upstream_blocked: sources.upstream_blocked,
        };
        let upstream =
            pull_through::offers(self.state, &sources.externals, &ProjectPageOf(normalized)).await;
        view.notes = upstream.notes;
        let pages: Vec<ExternalPage> = upstream
            .offers
            .into_iter()
            .map(|offer| ExternalPage {
                owner: offer.owner,
                connection: offer.connection,
                page: offer.document,
            })
            .collect();
        for (repository, row, assets, origin) in held {
            let metadata: Value = row
                .metadata
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or(Value::Null);
            for asset in assets {
                if view.files.iter().any(|file| file.file == asset.name) {
                    continue;
                }
                let facts = &metadata["files"][&asset.name];
                let live = origin
                    .as_deref()
                    .and_then(|origin| pages.iter().find(|page| page.connection == origin))
                    .and_then(|page| {
                        page.page.files.iter().find(|file| {
                            file.filename == asset.name
                                && file.sha256() == Some(asset.digests.sha256.as_str())
                        })
                    });
                // The upstream's hashes (now, else as recorded), and always our own sha256.
                let mut hashes = live.map_or_else(
                    || {
                        serde_json::from_value::<BTreeMap<String, String>>(facts["hashes"].clone())
                            .unwrap_or_default()
                    },
                    |file| file.hashes.clone(),
                );
                hashes.insert("sha256".to_owned(), asset.digests.sha256.clone());
                let text = |name: &str| {
                    facts[name]
                        .as_str()
                        .filter(|text| !text.is_empty())
                        .map(ToOwned::to_owned)
                };
                view.files.push(FileEntry {
                    url: file_url(&endpoint, normalized, &row.version, &asset.name),
                    version: row.version.clone(),
                    hashes,
                    size: Some(asset.size),
                    requires_python: match live {
                        Some(file) => file.requires_python.clone(),
                        None => text("requires_python"),
                    },
                    upload_time: live
                        .and_then(|file| file.upload_time.clone())
                        .or_else(|| stored_upload_time(&facts["upload_time"]))
                        .or_else(|| Some(upload_time(row.published))),
                    yanked: match live {
                        Some(file) => file.yanked.clone(),
                        None => facts["yanked"].as_str().map(ToOwned::to_owned),
                    },
                    core_metadata: text("core_metadata"),
                    source: FileSource::Repository(repository.clone()),
                    file: asset.name,
                });
            }
        }
        for external in &pages {
            for upstream in &external.page.files {
                if view.files.iter().any(|file| file.file == upstream.filename) {
                    continue;
                }
                let Some(version) = file_version(normalized, &upstream.filename) else {
                    continue;
                };
                view.files.push(external_entry(
                    &endpoint, normalized, version, upstream, external,
                ));
            }
        }
        for version in pages
            .iter()
            .flat_map(|external| external.page.versions.iter())
            .chain(view.files.iter().map(|file| &file.version))
        {
            if !view.versions.contains(version) {
                view.versions.push(version.clone());
            }
        }
        Ok(view)
    }

    async fn project_page(&self, normalized: &str) -> Result<Response, DataError> {
        let format = self.negotiate()?;
        let view = self.view(normalized).await?;
        if view.files.is_empty() {
            return Err(pull_through::not_found(
                format!(
                    "project `{normalized}` not found in `{}/{}`",
                    self.domain, self.repository
                ),
                view.upstream_blocked,
                &view.notes,
            ));
        }
        let body = match format {
            SimpleFormat::Json => render_json(normalized, &view),
            SimpleFormat::Html(_) => render_html(normalized, &view),
        };
        let mut response = simple_response(format, body);
        add_notes(&mut response, &view.notes);
        Ok(response)
    }

    /// A downloadable file of this repository: its version row and asset.
    async fn local_file(
        &self,
        normalized: &str,
        version: &str,
        file: &str,
    ) -> Result<Option<(VersionRow, AssetRow)>, DataError> {
        let key = self.key(normalized);
        let (wanted_version, wanted_file) = (version.to_owned(), file.to_owned());
        self.state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let Some(row) = store::version(connection, &key, &wanted_version)?
                    .filter(|row| DOWNLOADABLE.contains(&row.status.as_str()))
                else {
                    return Ok(None);
                };
                let asset = store::assets(connection, row.id)?
                    .into_iter()
                    .find(|asset| asset.name == wanted_file);
                Ok(asset.map(|asset| (row, asset)))
            })
            .await
    }

    async fn download(
        &self,
        normalized: &str,
        version: &str,
        file: &str,
    ) -> Result<Response, DataError> {
        if let Some(distribution) = file.strip_suffix(".metadata")
            && DistributionFile::parse(distribution).is_ok()
        {
            return self.core_metadata(normalized, version, distribution).await;
        }
        let mut notes = Vec::new();
        let mut found = self.local_file(normalized, version, file).await?;
        if found.is_none()
            && self
                .pull_through(normalized, version, file, &mut notes)
                .await?
        {
            found = self.local_file(normalized, version, file).await?;
        }
        let (_, asset) = found.ok_or_else(|| {
            with_notes(
                DataError::not_found(format!("`{file}` of {normalized} {version} not found")),
                &notes,
            )
        })?;
        let mut response = self
            .state
            .store
            .open_blob(asset.digests.sha256.clone())
            .await?
            .respond(self.headers);
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if let Ok(value) = HeaderValue::from_str(&asset.digests.sha256) {
            headers.insert("x-checksum-sha256", value);
        }
        add_notes(&mut response, &notes);
        Ok(response)
    }

    /// PEP 658: `<file>.metadata`, the core metadata of `distribution`. For a file held
    /// here (or in an upstream repository) it is the `METADATA` recorded when the wheel was
    /// stored; for a file an external connection offers, the upstream's `.metadata`,
    /// checked against the sha256 its page gives (not stored: the wheel's own copy is
    /// recorded when the wheel is pulled through).
    async fn core_metadata(
        &self,
        normalized: &str,
        version: &str,
        distribution: &str,
    ) -> Result<Response, DataError> {
        let missing = || {
            DataError::not_found(format!(
                "no core metadata for `{distribution}` of {normalized} {version}"
            ))
        };
        let held = self.local_file(normalized, version, distribution).await?;
        let (sha256, external, notes) = if let Some((row, _)) = held {
            let sha256 = row
                .metadata
                .as_deref()
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .and_then(|document| {
                    document["files"][distribution]["core_metadata"]
                        .as_str()
                        .map(ToOwned::to_owned)
                })
                .ok_or_else(missing)?;
            (sha256, None, Vec::new())
        } else {
            let view = self.view(normalized).await?;
            let entry = view
                .files
                .into_iter()
                .find(|entry| entry.file == distribution && entry.version == version)
                .ok_or_else(|| with_notes(missing(), &view.notes))?;
            let sha256 = entry
                .core_metadata
                .ok_or_else(|| with_notes(missing(), &view.notes))?;
            let external = match entry.source {
                FileSource::Repository(_) => None,
                FileSource::External {
                    connection, url, ..
                } => Some((connection, url)),
            };
            (sha256, external, view.notes)
        };
        let blob = match external {
            None => self.state.store.open_blob(sha256).await?,
            Some((connection_name, mut url)) => {
                let connection = pull_through::connection(self.state, &connection_name)?;
                url.set_path(&format!("{}.metadata", url.path()));
                let (bytes, _) = pull_through::fetch_verified(
                    self.state,
                    connection,
                    &format!("the core metadata of `{distribution}`"),
                    &url,
                    Some(("sha256", &sha256)),
                )
                .await?;
                store::Blob::Bytes(bytes)
            }
        };
        let mut response = blob.respond(self.headers);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        add_notes(&mut response, &notes);
        Ok(response)
    }

    /// Bring a file this repository does not hold from where the view says it lives: retain
    /// it from an upstream repository, or fetch it from an external connection, verify it
    /// against the upstream's sha256, and record it in the repository owning the connection
    /// and here. Returns whether anything was found.
    async fn pull_through(
        &self,
        normalized: &str,
        version: &str,
        file: &str,
        notes: &mut Vec<String>,
    ) -> Result<bool, DataError> {
        let view = self.view(normalized).await?;
        notes.extend(view.notes.iter().cloned());
        let Some(entry) = view
            .files
            .into_iter()
            .find(|entry| entry.file == file && entry.version == version)
        else {
            return Ok(false);
        };
        let here = self.key(normalized);
        match entry.source {
            FileSource::Repository(repository) => {
                pull_through::retain(self.state, &repository, &here, &entry.version).await?;
            }
            FileSource::External {
                owner,
                connection: connection_name,
                url,
                sha256,
            } => {
                let connection = pull_through::connection(self.state, &connection_name)?;
                let (bytes, digests) = pull_through::fetch_verified(
                    self.state,
                    connection,
                    &format!("`{file}`"),
                    &url,
                    sha256.as_deref().map(|sha256| ("sha256", sha256)),
                )
                .await?;
                let core_metadata = self
                    .store_core_metadata(file, &bytes)
                    .await?
                    .map(|(sha256, _)| sha256);
                if let (Some(ours), Some(claimed)) = (&core_metadata, &entry.core_metadata)
                    && ours != claimed
                {
                    tracing::warn!(connection = %connection_name, %file, %ours, %claimed, "the wheel's METADATA differs from the upstream's `.metadata`; serving the wheel's");
                }
                let now = self.state.clock.now();
                // What the upstream's page said, as it said it (the view shows the page's
                // current word while the upstream answers).
                let file_facts = json!({
                    "requires_python": entry.requires_python,
                    "upload_time": entry.upload_time.as_ref().map_or_else(|| json!(now), |text| json!(text)),
                    "yanked": entry.yanked,
                    "hashes": entry.hashes,
                    "core_metadata": core_metadata,
                });
                let pulled = pull_through::Pulled {
                    here,
                    owner,
                    connection: connection_name,
                    version: entry.version.clone(),
                    file: file.to_owned(),
                    metadata: None,
                };
                pull_through::store_with_file_facts(
                    self.state, pulled, normalized, file_facts, bytes, digests,
                )
                .await?;
            }
        }
        Ok(true)
    }

    /// Store a wheel's `METADATA` as a blob, to serve as `<file>.metadata` (PEP 658):
    /// its sha256 and bytes. `None` for sdists and wheels without a readable one.
    async fn store_core_metadata(
        &self,
        file: &str,
        content: &Bytes,
    ) -> Result<Option<(String, Bytes)>, DataError> {
        if !matches!(
            DistributionFile::parse(file),
            Ok(DistributionFile::Wheel { .. })
        ) {
            return Ok(None);
        }
        let content = content.clone();
        let metadata = tokio::task::spawn_blocking(move || wheel_metadata(&content))
            .await
            .map_err(|error| {
                DataError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("reading the wheel's METADATA failed: {error}"),
                )
            })?;
        let Some(metadata) = metadata else {
            tracing::debug!(%file, "no METADATA in the wheel; no core metadata offered");
            return Ok(None);
        };
        let metadata = Bytes::from(metadata);
        let placed = self.state.store.put_blob(metadata.clone()).await?;
        Ok(Some((placed.digests.sha256.clone(), metadata)))
    }

    /// [`Self::store_core_metadata`] for an upload in its temp file: only the zip's
    /// directory and the `METADATA` member are read.
    async fn file_core_metadata(
        &self,
        file: &str,
        content: &crate::server::ingest::Spool,
    ) -> Result<Option<(String, Bytes)>, DataError> {
        if !matches!(
            DistributionFile::parse(file),
            Ok(DistributionFile::Wheel { .. })
        ) {
            return Ok(None);
        }
        let reader = content
            .reader()
            .map_err(crate::server::ingest::BodyError::Io)?;
        let metadata = crate::server::ingest::blocking(move || {
            Ok(crate::ecosystem::pypi::wheel_metadata_from(
                std::io::BufReader::new(reader),
            ))
        })
        .await?;
        let Some(metadata) = metadata else {
            tracing::debug!(%file, "no METADATA in the wheel; no core metadata offered");
            return Ok(None);
        };
        let metadata = Bytes::from(metadata);
        let placed = self.state.store.put_blob(metadata.clone()).await?;
        Ok(Some((placed.digests.sha256.clone(), metadata)))
    }

    async fn upload(
        &self,
        body: crate::server::ingest::Spool,
        principal: Option<&Principal>,
    ) -> Result<Response, DataError> {
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let bad = |error: multipart::MultipartError| DataError::bad_request(error.to_string());
        let boundary = multipart::boundary(content_type).map_err(bad)?;
        let limits = self.state.limits;
        let tmp = self.state.store.tmp_dir().to_path_buf();
        // The form is read from the spooled body; its file part gets a temp file of its own
        // (hashed, BLAKE2 too) and the body's file is dropped.
        let (parts, blake2_256) = crate::server::ingest::blocking(move || {
            let parts = multipart::parse_stream(
                std::io::BufReader::new(body.reader()?),
                &boundary,
                &tmp,
                limits.max_upload_bytes,
                limits.max_metadata_bytes,
                |_, filename| filename.is_some(),
            )
            .map_err(|error| match error {
                multipart::StreamError::Form(error) => {
                    crate::server::ingest::BodyError::Read(error.to_string())
                }
                multipart::StreamError::Body(error) => error,
            })?;
            drop(body);
            let mut blake2_256 = None;
            for part in &parts {
                if part.name == "content"
                    && let multipart::StreamedContent::File(spool) = &part.content
                {
                    let mut hasher = blake2::Blake2b::<blake2::digest::consts::U32>::new();
                    std::io::copy(&mut spool.reader()?, &mut hasher)?;
                    blake2_256 = Some(hex::encode(hasher.finalize()));
                }
            }
            Ok((parts, blake2_256.unwrap_or_default()))
        })
        .await
        .map_err(|error| match error {
            crate::server::ingest::BodyError::Read(message) => DataError::bad_request(message),
            other => other.into(),
        })?;
        let form = UploadForm::from_parts(parts)?;
        let upload = form.validate()?;

        // Checked before the blob is placed, so a mismatch leaves no trace.
        let digests = upload.content.digests().clone();
        if let Err(error) = upload.verify_digests(&digests, &blake2_256) {
            drop(upload);
            let _ = crate::server::ingest::sweep_tmp(self.state.store.tmp_dir());
            return Err(error);
        }
        let core_metadata = self
            .file_core_metadata(&upload.file, &upload.content)
            .await?;
        let size = upload.content.size();
        let placed = self.state.store.put_spool(upload.content).await?;
        let asset = AssetRow {
            name: upload.file.clone(),
            size,
            digests: placed.digests.clone(),
        };
        let now = self.state.clock.now();
        // A wheel's own METADATA says what it requires, whatever the form claimed.
        let requires_python = match &core_metadata {
            Some((_, metadata)) => metadata_field(metadata, "Requires-Python"),
            None => upload.requires_python.clone(),
        };
        let file_facts = json!({
            "requires_python": requires_python,
            "upload_time": now,
            "core_metadata": core_metadata.as_ref().map(|(sha256, _)| sha256),
            "filetype": upload.file_type,
            "pyversion": upload.pyversion,
            "uploader": principal.map(|principal| principal.name.clone()),
        });
        let key = self.key(&normalize_name(&upload.name));
        let (name, version, file, metadata) = (
            upload.name.clone(),
            upload.version.clone(),
            upload.file.clone(),
            upload.metadata.clone(),
        );
        let outcome = self
            .state
            .store
            .with(move |connection| -> Result<Result<(), DataError>, DataError> {
                let transaction = store::write_transaction(connection)?;
                if store::find_asset(&transaction, &key, &file)?.is_some() {
                    return Ok(Err(DataError::bad_request(format!(
                        "File already exists: `{file}` was already uploaded to {}",
                        key.package
                    ))));
                }
                let revision = store::new_revision();
                match store::version(&transaction, &key, &version)? {
                    Some(row) if !matches!(row.status.as_str(), "Published" | "Unfinished") => {
                        return Ok(Err(DataError::bad_request(format!(
                            "{name} {version} is {}; files cannot be added to it",
                            row.status
                        ))));
                    }
                    Some(row) => {
                        let mut document: Value = row
                            .metadata
                            .as_deref()
                            .and_then(|text| serde_json::from_str(text).ok())
                            .filter(Value::is_object)
                            .unwrap_or_else(|| json!({ "name": name, "version": version, "metadata": metadata }));
                        if !document["files"].is_object() {
                            document["files"] = json!({});
                        }
                        document["files"][&file] = file_facts;
                        store::update_version_metadata(
                            &transaction,
                            row.id,
                            &document.to_string(),
                            &revision,
                        )?;
                        if row.status == "Unfinished" {
                            store::update_version_status(
                                &transaction,
                                row.id,
                                "Published",
                                &revision,
                            )?;
                        }
                        store::insert_asset(&transaction, row.id, &asset)?;
                    }
                                        None => {
                        if let Err(refused) = crate::server::packages::admit_publish(&transaction, &key) {
                            return Ok(Err(DataError::new(StatusCode::FORBIDDEN, refused.refusal(&name)?)));
                        }
                        let document = json!({
                            "name": name,
                            "version": version,
                            "metadata": metadata,
                            "files": { file.clone(): file_facts },
                        });
                        let row = VersionRow {
                            id: 0,
                            version: version.clone(),
                            revision,
                            status: "Published".to_owned(),
                            published: now,
                            metadata: Some(document.to_string()),
                        };
                        let id = store::insert_version(&transaction, &key, &row)?;
                        store::insert_asset(&transaction, id, &asset)?;
                    }
                }
                transaction.commit()?;
                Ok(Ok(()))
            })
            .await?;
        if let Err(error) = outcome {
            self.state.store.discard(placed).await?;
            return Err(error);
        }
        drop(placed);
        tracing::info!(project = %upload.name, version = %upload.version, file = %upload.file, "pypi upload");
        Ok((StatusCode::OK, "OK\n").into_response())
    }
}

/// The fields of a `file_upload` form.
#[derive(Debug, Default)]
struct UploadForm {
    fields: Vec<(String, String)>,
    content: Option<(String, crate::server::ingest::Spool)>,
}

/// A validated upload.
#[derive(Debug)]
struct Upload {
    name: String,
    version: String,
    file: String,
    file_type: &'static str,
    pyversion: Option<String>,
    requires_python: Option<String>,
    content: crate::server::ingest::Spool,
    sha256: Option<String>,
    md5: Option<String>,
    blake2_256: Option<String>,
    metadata: Map<String, Value>,
}

impl UploadForm {
    fn from_parts(parts: Vec<multipart::StreamedPart>) -> Result<Self, DataError> {
        let mut form = Self::default();
        for part in parts {
            match (part.name == "content", part.content) {
                (true, multipart::StreamedContent::File(spool)) => {
                    let file = part.filename.unwrap_or_default();
                    if form.content.replace((file, *spool)).is_some() {
                        return Err(DataError::bad_request("more than one `content` part"));
                    }
                }
                (true, multipart::StreamedContent::Field(_)) => {
                    return Err(DataError::bad_request(
                        "the `content` part must be a file with a filename",
                    ));
                }
                (false, multipart::StreamedContent::Field(bytes)) => {
                    let value = String::from_utf8_lossy(&bytes).into_owned();
                    form.fields.push((part.name, value));
                }
                (false, multipart::StreamedContent::File(_)) => {}
            }
        }
        Ok(form)
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    fn validate(mut self) -> Result<Upload, DataError> {
        match self.field(":action") {
            Some("file_upload") => {}
            Some(other) => {
                return Err(DataError::bad_request(format!(
                    "unsupported `:action` `{other}`; only `file_upload` is supported"
                )));
            }
            None => return Err(DataError::bad_request("missing `:action=file_upload`")),
        }
        if let Some(protocol) = self.field("protocol_version")
            && protocol != "1"
        {
            return Err(DataError::bad_request(format!(
                "unsupported `protocol_version` `{protocol}`"
            )));
        }
        let name = self
            .field("name")
            .ok_or_else(|| DataError::bad_request("missing `name`"))?
            .to_owned();
        if !is_valid_name(&name) {
            return Err(DataError::bad_request(format!(
                "invalid project name `{name}`: use ASCII letters, digits, `.`, `_` and `-`, starting and ending with a letter or digit"
            )));
        }
        let version = self
            .field("version")
            .ok_or_else(|| DataError::bad_request("missing `version`"))?
            .to_owned();
        if version.len() > 255
            || version
                .chars()
                .any(|character| character.is_whitespace() || matches!(character, '/' | '#'))
        {
            return Err(DataError::bad_request(format!(
                "invalid version `{version}`"
            )));
        }
        let Some((file, content)) = self.content.take() else {
            return Err(DataError::bad_request("missing the `content` file part"));
        };
        let parsed = DistributionFile::parse(&file)
            .map_err(|error| DataError::bad_request(error.to_string()))?;
        let file_type = parsed.file_type().as_str();
        if let Some(claimed) = self.field("filetype")
            && claimed != file_type
        {
            return Err(DataError::bad_request(format!(
                "`filetype` is `{claimed}` but `{file}` is a {file_type}"
            )));
        }
        if !parsed.matches(&name, &version) {
            return Err(DataError::bad_request(format!(
                "`{file}` is not a distribution of {name} {version}"
            )));
        }
        let digest = |field: &str| self.field(field).map(str::to_ascii_lowercase);
        let (sha256, blake2_256) = (digest("sha256_digest"), digest("blake2_256_digest"));
        let md5 = self.field("md5_digest").map(ToOwned::to_owned);
        if sha256.is_none() && md5.is_none() && blake2_256.is_none() {
            return Err(DataError::bad_request(
                "send at least one of `sha256_digest`, `md5_digest` and `blake2_256_digest`",
            ));
        }
        let mut metadata = Map::new();
        for (key, value) in &self.fields {
            if NON_METADATA_FIELDS.contains(&key.as_str()) || value.is_empty() {
                continue;
            }
            let repeated = LIST_FIELDS.contains(&key.as_str())
                || self.fields.iter().filter(|(other, _)| other == key).count() > 1;
            if repeated {
                let entry = metadata
                    .entry(key.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(values) = entry {
                    values.push(Value::String(value.clone()));
                }
            } else {
                metadata.insert(key.clone(), Value::String(value.clone()));
            }
        }
        Ok(Upload {
            requires_python: self.field("requires_python").map(ToOwned::to_owned),
            pyversion: self.field("pyversion").map(ToOwned::to_owned),
            name,
            version,
            file,
            file_type,
            content,
            sha256,
            md5,
            blake2_256,
            metadata,
        })
    }
}

impl Upload {
    fn verify_digests(&self, digests: &Digests, blake2_256: &str) -> Result<(), DataError> {
        let mismatch = |algorithm: &str, claimed: &str, actual: &str| {
            DataError::bad_request(format!(
                "the uploaded `{}` does not match `{algorithm}`: the client sent {claimed}, the content hashes to {actual}",
                self.file
            ))
        };
        if let Some(claimed) = &self.sha256
            && *claimed != digests.sha256
        {
            return Err(mismatch("sha256_digest", claimed, &digests.sha256));
        }
        if let Some(claimed) = &self.blake2_256
            && claimed != blake2_256
        {
            return Err(mismatch("blake2_256_digest", claimed, blake2_256));
        }
        if let Some(claimed) = &self.md5 {
            // Hex from twine and poetry; warehouse's docs also show urlsafe base64.
            let matches = claimed.eq_ignore_ascii_case(&digests.md5)
                || base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(claimed.trim_end_matches('='))
                    .is_ok_and(|bytes| hex::encode(bytes) == digests.md5);
            if !matches {
                return Err(mismatch("md5_digest", claimed, &digests.md5));
            }
        }
        Ok(())
    }
}

/// The name a project was uploaded under (falls back to the normalized name).
fn display_name(row: &VersionRow) -> String {
    row.metadata
        .as_deref()
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|document| document["name"].as_str().map(ToOwned::to_owned))
        .unwrap_or_default()
}

/// A file an external connection's page lists and this repository does not hold yet.
/// Core metadata is offered only with a sha256 to check the upstream's `.metadata` against.
fn external_entry(
    endpoint: &str,
    normalized: &str,
    version: String,
    upstream: &PageFile,
    external: &ExternalPage,
) -> FileEntry {
    FileEntry {
        url: file_url(endpoint, normalized, &version, &upstream.filename),
        file: upstream.filename.clone(),
        version,
        hashes: upstream.hashes.clone(),
        size: upstream.size,
        requires_python: upstream.requires_python.clone(),
        upload_time: upstream.upload_time.clone(),
        yanked: upstream.yanked.clone(),
        core_metadata: upstream
            .core_metadata
            .as_ref()
            .and_then(|hashes| hashes.get("sha256").cloned()),
        source: FileSource::External {
            owner: external.owner.clone(),
            connection: external.connection.clone(),
            url: upstream.url.clone(),
            sha256: upstream.sha256().map(ToOwned::to_owned),
        },
    }
}

/// A project's page from an external connection of format `pypi` (PEP 691 JSON or PEP 503
/// HTML, read by the shared parser).
struct ProjectPageOf<'a>(&'a str);

impl UpstreamAdapter for ProjectPageOf<'_> {
    const FORMAT: crate::format::Format = crate::format::Format::Pypi;
    type Document = ProjectPage;

    async fn read(&self, upstream: &mut UpstreamReader<'_>) -> Result<Option<ProjectPage>, String> {
        let normalized = self.0;
        let url = upstream.join(&format!("{}/", encode(normalized)))?;
        let Some(body) = upstream.document(&url, UPSTREAM_ACCEPT, normalized).await? else {
            return Ok(None);
        };
        parse_project_page(&body, &url)
            .map(Some)
            .map_err(|error| upstream.invalid("project page", error))
    }
}

/// A recorded `upload_time`: the upstream's PEP 700 text, or epoch seconds (publish time).
fn stored_upload_time(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => number.as_f64().map(upload_time),
        _ => None,
    }
}

/// A project page in PEP 691 JSON, with the PEP 700 and PEP 714 keys PyPI writes.
fn render_json(normalized: &str, view: &View) -> String {
    let files: Vec<Value> = view
        .files
        .iter()
        .map(|file| {
            let mut entry = json!({
                "filename": file.file,
                "url": file.url,
                "hashes": file.hashes,
                "yanked": match file.yanked.as_deref() {
                    None => json!(false),
                    Some("") => json!(true),
                    Some(reason) => json!(reason),
                },
            });
            if let Some(requires_python) = &file.requires_python {
                entry["requires-python"] = json!(requires_python);
            }
            if let Some(size) = file.size {
                entry["size"] = json!(size);
            }
            if let Some(time) = &file.upload_time {
                entry["upload-time"] = json!(time);
            }
            if let Some(sha256) = &file.core_metadata {
                // PEP 714's key, and the PEP 658 spelling pip before 23.2 reads.
                entry["core-metadata"] = json!({ "sha256": sha256 });
                entry["data-dist-info-metadata"] = json!({ "sha256": sha256 });
            }
            entry
        })
        .collect();
    json!({
        "meta": { "api-version": SIMPLE_API_VERSION },
        "name": normalized,
        "versions": view.versions,
        "files": files,
    })
    .to_string()
}

/// A project page in PEP 503 HTML, with the PEP 592, PEP 658 and PEP 714 attributes.
fn render_html(normalized: &str, view: &View) -> String {
    let mut html = page_head(&format!("Links for {normalized}"));
    let _ = writeln!(html, "    <h1>Links for {}</h1>", escape_html(normalized));
    for file in &view.files {
        let mut attributes = String::new();
        if let Some(requires_python) = &file.requires_python {
            let _ = write!(
                attributes,
                " data-requires-python=\"{}\"",
                escape_html(requires_python)
            );
        }
        if let Some(reason) = &file.yanked {
            let _ = write!(attributes, " data-yanked=\"{}\"", escape_html(reason));
        }
        if let Some(sha256) = &file.core_metadata {
            let _ = write!(
                attributes,
                " data-dist-info-metadata=\"sha256={0}\" data-core-metadata=\"sha256={0}\"",
                escape_html(sha256)
            );
        }
        let fragment = file
            .hashes
            .get_key_value("sha256")
            .or_else(|| file.hashes.iter().next())
            .map(|(algorithm, digest)| escape_html(&format!("#{algorithm}={digest}")))
            .unwrap_or_default();
        let _ = writeln!(
            html,
            "    <a href=\"{}{fragment}\"{attributes}>{}</a><br/>",
            escape_html(&file.url),
            escape_html(&file.file)
        );
    }
    html.push_str("  </body>\n</html>\n");
    html
}

fn page_head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"{SIMPLE_API_VERSION}\">\n    <title>{}</title>\n  </head>\n  <body>\n",
        escape_html(title)
    )
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// PEP 700 `upload-time`: `yyyy-mm-ddThh:mm:ss.ffffffZ`.
fn upload_time(epoch: f64) -> String {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "epoch microseconds fit in i128"
    )]
    let nanos = (epoch * 1_000_000.0).round() as i128 * 1000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|moment| {
            moment
                .format(time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
                ))
                .ok()
        })
        .unwrap_or_default()
}

fn simple_response(format: SimpleFormat, body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_parsed_from_raw_paths() {
        assert_eq!(parse_target(""), Target::Root);
        assert_eq!(parse_target("simple"), Target::ProjectList { slash: false });
        assert_eq!(parse_target("simple/"), Target::ProjectList { slash: true });
        assert_eq!(
            parse_target("simple/Lading.Demo"),
            Target::Project {
                name: "Lading.Demo".into(),
                slash: false
            }
        );
        assert_eq!(
            parse_target("simple/lading-demo/"),
            Target::Project {
                name: "lading-demo".into(),
                slash: true
            }
        );
        assert_eq!(
            parse_target("files/a/1.0%2Blocal/a-1.0%2Blocal-py3-none-any.whl"),
            Target::File {
                project: "a".into(),
                version: "1.0+local".into(),
                file: "a-1.0+local-py3-none-any.whl".into()
            }
        );
        assert!(matches!(
            parse_target("files/a/1.0"),
            Target::Unsupported(_)
        ));
        assert!(matches!(
            parse_target("pypi/a/json"),
            Target::Unsupported(_)
        ));
    }

    #[test]
    fn versions_come_from_file_names() {
        assert_eq!(
            file_version("only-upstream", "only_upstream-1.0.0-py3-none-any.whl").as_deref(),
            Some("1.0.0")
        );
        assert_eq!(
            file_version("lading-demo", "Lading.Demo-2.0.tar.gz").as_deref(),
            Some("2.0")
        );
        assert_eq!(
            file_version("a-b", "a-b-1.0-rc1.tar.gz").as_deref(),
            Some("1.0-rc1")
        );
        assert_eq!(
            file_version("other", "lading_demo-1.0-py3-none-any.whl"),
            None
        );
        assert_eq!(file_version("x", "x-1.0.egg"), None);
    }

    #[test]
    fn html_is_escaped_and_times_have_microseconds() {
        assert_eq!(escape_html(">=3.8, <4"), "&gt;=3.8, &lt;4");
        assert_eq!(escape_html("a\"b&c"), "a&quot;b&amp;c");
        assert_eq!(upload_time(1_700_000_000.25), "2023-11-14T22:13:20.250000Z");
    }

    fn form(fields: &[(&str, &str)], file: &str, content: &'static [u8]) -> UploadForm {
        UploadForm {
            fields: fields
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
            content: Some((file.to_owned(), {
                let mut writer =
                    crate::server::ingest::SpoolWriter::create(&std::env::temp_dir(), u64::MAX)
                        .unwrap();
                writer.write(content).unwrap();
                writer.finish()
            })),
        }
    }

    const BASE: &[(&str, &str)] = &[
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("name", "Lading-Demo"),
        ("version", "1.0.0"),
        ("filetype", "bdist_wheel"),
        ("sha256_digest", "AB"),
        ("classifiers", "A"),
        ("summary", "s"),
        ("requires_python", ">=3.8"),
    ];

    #[test]
    fn upload_forms_are_validated() {
        let upload = form(BASE, "lading_demo-1.0.0-py3-none-any.whl", b"x")
            .validate()
            .unwrap();
        assert_eq!(upload.sha256.as_deref(), Some("ab"));
        assert_eq!(upload.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(upload.metadata["classifiers"], json!(["A"]));
        assert_eq!(upload.metadata["summary"], json!("s"));
        assert!(!upload.metadata.contains_key("sha256_digest"));

        for (file, why) in [
            ("lading_demo-1.0.1-py3-none-any.whl", "other version"),
            ("other-1.0.0-py3-none-any.whl", "other project"),
            ("lading_demo-1.0.0.tar.gz", "filetype says wheel"),
            ("lading_demo-1.0.0.egg", "not a wheel or sdist"),
        ] {
            assert!(
                form(BASE, file, b"x").validate().is_err(),
                "{file} must be refused: {why}"
            );
        }
        let without_digest: Vec<_> = BASE
            .iter()
            .copied()
            .filter(|(key, _)| *key != "sha256_digest")
            .collect();
        assert!(
            form(&without_digest, "lading_demo-1.0.0-py3-none-any.whl", b"x")
                .validate()
                .is_err()
        );
        let mut submit = BASE.to_vec();
        submit[0] = (":action", "submit");
        assert!(
            form(&submit, "lading_demo-1.0.0-py3-none-any.whl", b"x")
                .validate()
                .is_err()
        );
    }

    #[test]
    fn digests_are_checked_in_hex_and_md5_in_base64_too() {
        let digests = Digests::of(b"x");
        let blake2 = "0".repeat(64);
        let mut upload = form(BASE, "lading_demo-1.0.0-py3-none-any.whl", b"x")
            .validate()
            .unwrap();
        assert!(upload.verify_digests(&digests, &blake2).is_err());
        upload.sha256 = Some(digests.sha256.clone());
        assert!(upload.verify_digests(&digests, &blake2).is_ok());
        upload.blake2_256 = Some("1".repeat(64));
        assert!(upload.verify_digests(&digests, &blake2).is_err());
        upload.blake2_256 = None;
        let md5_bytes = hex::decode(&digests.md5).unwrap();
        upload.md5 = Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(md5_bytes));
        assert!(upload.verify_digests(&digests, &blake2).is_ok());
        upload.md5 = Some(digests.md5.to_uppercase());
        assert!(upload.verify_digests(&digests, &blake2).is_ok());
        upload.md5 = Some("nope".into());
        assert!(upload.verify_digests(&digests, &blake2).is_err());
    }
}
