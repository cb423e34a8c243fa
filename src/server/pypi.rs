//! The PyPI data plane at `/d/{domain}/pypi/{repository}/` (the endpoint E that
//! `GetRepositoryEndpoint` returns for `pypi`).
//!
//! ```text
//! POST E                                   twine upload (legacy API, `:action=file_upload`)
//! GET  E simple/                           project list (PEP 503 HTML or PEP 691 JSON)
//! GET  E simple/{project}/                 project page; other spellings redirect here
//! GET  E files/{project}/{version}/{file}  a distribution file
//! ```
//!
//! Every request needs a repository token (HTTP Basic `aws:<token>`, what pip and twine
//! send; Bearer works too): reads need `read`, uploads `publish`. A request without
//! credentials gets 401 with a Basic-only challenge so pip retries with netrc or keyring.
//! Each uploaded file becomes an asset of the version (format `pypi`, no namespace, package
//! = the PEP 503 normalized name); per-file facts (requires-python, upload time) live in the
//! version's metadata JSON under `files`.
//!
//! Reads fall through to upstream repositories and external connections (see
//! `packages::read_sources`): a project page merges every file they offer (an upstream
//! simple index answering PEP 691 JSON or PEP 503 HTML, its `#sha256=` fragments kept), and a
//! download of a file held elsewhere retains it here; one from an external connection is
//! fetched, checked against the upstream's sha256 (no sha256: refused, nothing stored), and
//! recorded with EXTERNAL origin in the repository owning the connection and here. Errors carry their message in the HTTP reason
//! phrase too, because twine prints the reason (as PyPI's `400 File already exists`) and
//! shows the body only with `--verbose`.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use blake2::Digest as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::AppState;
use super::access::{self, Permission, Principal};
use super::error::DataError;
use super::multipart;
use super::packages;
use super::store::{self, AssetRow, Digests, PackageKey, VersionRow};
use super::upstream::{ExternalConnection, Fetched, add_notes, with_notes};
use crate::ecosystem::pypi::{
    DistributionFile, SIMPLE_API_VERSION, SimpleFormat, is_valid_name, negotiate, normalize_name,
};

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

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
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

/// Entry point for `/d/{domain}/pypi/{repository}/` and everything below it.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    // /d/{domain}/pypi/{repository}/{rest}
    let (domain, repository, rest) = super::split_data_path(&path);
    let request = PypiRequest {
        state: &state,
        domain,
        repository,
        headers: &parts.headers,
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

struct PypiRequest<'a> {
    state: &'a AppState,
    domain: String,
    repository: String,
    headers: &'a HeaderMap,
}

/// One file of a version as the simple API shows it.
struct FileEntry {
    file: String,
    version: String,
    url: String,
    sha256: Option<String>,
    size: Option<u64>,
    requires_python: Option<String>,
    upload_time: Option<f64>,
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
    notes: Vec<String>,
    upstream_blocked: bool,
}

/// What lading asks an upstream simple index for: PEP 691 JSON, else HTML.
const UPSTREAM_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// A file an upstream project page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UpstreamFile {
    file: String,
    url: url::Url,
    sha256: Option<String>,
    requires_python: Option<String>,
}

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

fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in the inside of an HTML start tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let start = from + found;
        from = start + name.len();
        let before = lower[..start].chars().last();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let rest = tag[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => rest[1..].split(quote).next().unwrap_or_default(),
            _ => rest.split(char::is_whitespace).next().unwrap_or_default(),
        };
        return Some(unescape_html(value));
    }
    None
}

/// The files of an upstream project page: PEP 691 JSON or PEP 503 HTML, links resolved
/// against `page_url`, sha256 from `hashes` or the `#sha256=` fragment.
fn parse_upstream_page(body: &[u8], page_url: &url::Url) -> Result<Vec<UpstreamFile>, String> {
    let text = String::from_utf8_lossy(body);
    let mut files = Vec::new();
    if text.trim_start().starts_with('{') {
        let document: Value =
            serde_json::from_str(&text).map_err(|error| format!("invalid JSON: {error}"))?;
        for entry in document["files"].as_array().into_iter().flatten() {
            let (Some(file), Some(href)) = (entry["filename"].as_str(), entry["url"].as_str())
            else {
                continue;
            };
            let Ok(url) = page_url.join(href) else {
                continue;
            };
            files.push(UpstreamFile {
                file: file.to_owned(),
                url,
                sha256: entry["hashes"]["sha256"]
                    .as_str()
                    .map(str::to_ascii_lowercase),
                requires_python: entry["requires-python"].as_str().map(ToOwned::to_owned),
            });
        }
        return Ok(files);
    }
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("<a") {
        let start = from + found + 2;
        let Some(tag_end) = lower[start..].find('>').map(|end| start + end) else {
            break;
        };
        from = tag_end;
        if !lower[start..].starts_with(|character: char| character.is_whitespace()) {
            continue;
        }
        let tag = &text[start..tag_end];
        let Some(href) = attribute(tag, "href") else {
            continue;
        };
        let Ok(mut url) = page_url.join(&href) else {
            continue;
        };
        let sha256 = url.fragment().and_then(|fragment| {
            fragment
                .strip_prefix("sha256=")
                .map(str::to_ascii_lowercase)
        });
        url.set_fragment(None);
        let content_end = lower[tag_end..]
            .find("</a")
            .map_or(text.len(), |end| tag_end + end);
        let label = unescape_html(text[tag_end + 1..content_end].trim());
        let file = if label.is_empty() {
            url.path_segments()
                .and_then(|mut segments| segments.next_back())
                .map(decode)
                .unwrap_or_default()
        } else {
            label
        };
        files.push(UpstreamFile {
            file,
            url,
            sha256,
            requires_python: attribute(tag, "data-requires-python"),
        });
    }
    Ok(files)
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
                let body = axum::body::to_bytes(body, self.state.max_body_bytes)
                    .await
                    .map_err(|error| {
                        DataError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!("failed to read the request body: {error}"),
                        )
                    })?;
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
            (method, _) => Err(DataError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not supported here"),
            )),
        }
    }

    fn endpoint(&self) -> String {
        self.state
            .repository_endpoint(self.headers, &self.domain, "pypi", &self.repository)
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
        PackageKey {
            domain: self.domain.clone(),
            repository: self.repository.clone(),
            format: "pypi".to_owned(),
            namespace: String::new(),
            package: normalized.to_owned(),
        }
    }

    async fn require_repository(&self) -> Result<(), DataError> {
        self.state
            .require_repository(&self.domain, &self.repository)
            .await
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
    async fn view(&self, normalized: &str) -> Result<View, DataError> {
        let key = self.key(normalized);
        let endpoint = self.endpoint();
        let (sources, held) = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let sources = packages::read_sources(connection, &key)?;
                let mut held = Vec::new();
                for repository in &sources.repositories {
                    let repository_key = PackageKey {
                        repository: repository.clone(),
                        ..key.clone()
                    };
                    for row in store::versions(connection, &repository_key)? {
                        if row.status == "Published" {
                            let assets = store::assets(connection, row.id)?;
                            held.push((repository.clone(), row, assets));
                        }
                    }
                }
                Ok((sources, held))
            })
            .await?;
        let mut view = View {
            files: Vec::new(),
            notes: Vec::new(),
            upstream_blocked: sources.upstream_blocked,
        };
        for (repository, row, assets) in held {
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
                view.files.push(FileEntry {
                    url: file_url(&endpoint, normalized, &row.version, &asset.name),
                    file: asset.name,
                    version: row.version.clone(),
                    sha256: Some(asset.digests.sha256),
                    size: Some(asset.size),
                    requires_python: facts["requires_python"]
                        .as_str()
                        .filter(|text| !text.is_empty())
                        .map(ToOwned::to_owned),
                    upload_time: Some(facts["upload_time"].as_f64().unwrap_or(row.published)),
                    source: FileSource::Repository(repository.clone()),
                });
            }
        }
        for (owner, connection_name) in sources.externals {
            let Some(connection) = self
                .state
                .externals
                .get(&connection_name)
                .filter(|connection| connection.format == "pypi")
            else {
                continue;
            };
            let listed = match self.upstream_page(connection, normalized).await {
                Ok(Some((listed, stale))) => {
                    if stale {
                        view.notes
                            .push(format!("{connection_name} unavailable; served from cache"));
                    }
                    listed
                }
                Ok(None) => continue,
                Err(note) => {
                    view.notes.push(note);
                    continue;
                }
            };
            for upstream in listed {
                if view.files.iter().any(|file| file.file == upstream.file) {
                    continue;
                }
                let Some(version) = file_version(normalized, &upstream.file) else {
                    continue;
                };
                view.files.push(FileEntry {
                    url: file_url(&endpoint, normalized, &version, &upstream.file),
                    file: upstream.file,
                    version,
                    sha256: upstream.sha256.clone(),
                    size: None,
                    requires_python: upstream.requires_python,
                    upload_time: None,
                    source: FileSource::External {
                        owner: owner.clone(),
                        connection: connection_name.clone(),
                        url: upstream.url,
                        sha256: upstream.sha256,
                    },
                });
            }
        }
        Ok(view)
    }

    /// The files an external connection's project page lists (fresh, or cached when the
    /// upstream is down: the flag). `Ok(None)`: the upstream does not have the project;
    /// `Err`: a note for the response header.
    async fn upstream_page(
        &self,
        connection: &ExternalConnection,
        normalized: &str,
    ) -> Result<Option<(Vec<UpstreamFile>, bool)>, String> {
        let url = connection
            .url
            .join(&format!("{}/", encode(normalized)))
            .map_err(|error| format!("{}: bad URL: {error}", connection.name))?;
        let (body, stale) = match self
            .state
            .externals
            .fetch_metadata(connection, &url, UPSTREAM_ACCEPT, normalized)
            .await
        {
            Fetched::Fresh(body) => (body, false),
            Fetched::Stale(body) => (body, true),
            Fetched::NotFound => return Ok(None),
            Fetched::Unavailable(reason) => {
                return Err(format!("{} unavailable: {reason}", connection.name));
            }
        };
        parse_upstream_page(&body, &url)
            .map(|files| Some((files, stale)))
            .map_err(|error| format!("{}: invalid project page: {error}", connection.name))
    }

    async fn project_page(&self, normalized: &str) -> Result<Response, DataError> {
        let format = self.negotiate()?;
        let view = self.view(normalized).await?;
        if view.files.is_empty() {
            let mut message = format!(
                "project `{normalized}` not found in `{}/{}`",
                self.domain, self.repository
            );
            if view.upstream_blocked {
                message.push_str(packages::BLOCKED_NOTE);
            }
            return Err(with_notes(DataError::not_found(message), &view.notes));
        }
        let files = &view.files;
        let mut versions: Vec<String> = Vec::new();
        for file in files {
            if !versions.contains(&file.version) {
                versions.push(file.version.clone());
            }
        }
        let body = match format {
            SimpleFormat::Json => json!({
                "meta": { "api-version": SIMPLE_API_VERSION },
                "name": normalized,
                "versions": versions,
                "files": files.iter().map(|file| {
                    let mut entry = json!({
                        "filename": file.file,
                        "url": file.url,
                        "hashes": file.sha256.as_ref().map_or_else(|| json!({}), |sha256| json!({ "sha256": sha256 })),
                        "yanked": false,
                    });
                    if let Some(size) = file.size {
                        entry["size"] = json!(size);
                    }
                    if let Some(time) = file.upload_time {
                        entry["upload-time"] = json!(upload_time(time));
                    }
                    if let Some(requires_python) = &file.requires_python {
                        entry["requires-python"] = json!(requires_python);
                    }
                    entry
                }).collect::<Vec<_>>(),
            })
            .to_string(),
            SimpleFormat::Html(_) => {
                let mut html = page_head(&format!("Links for {normalized}"));
                let _ = writeln!(html, "    <h1>Links for {}</h1>", escape_html(normalized));
                for file in files {
                    let requires_python = file
                        .requires_python
                        .as_deref()
                        .map(|text| format!(" data-requires-python=\"{}\"", escape_html(text)))
                        .unwrap_or_default();
                    let fragment = file
                        .sha256
                        .as_deref()
                        .map(|sha256| format!("#sha256={sha256}"))
                        .unwrap_or_default();
                    let _ = writeln!(
                        html,
                        "    <a href=\"{}{fragment}\"{requires_python}>{}</a><br/>",
                        escape_html(&file.url),
                        escape_html(&file.file)
                    );
                }
                html.push_str("  </body>\n</html>\n");
                html
            }
        };
        let mut response = simple_response(format, body);
        add_notes(&mut response, &view.notes);
        Ok(response)
    }

    async fn local_file(
        &self,
        normalized: &str,
        version: &str,
        file: &str,
    ) -> Result<Option<AssetRow>, DataError> {
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
                Ok(store::assets(connection, row.id)?
                    .into_iter()
                    .find(|asset| asset.name == wanted_file))
            })
            .await
    }

    async fn download(
        &self,
        normalized: &str,
        version: &str,
        file: &str,
    ) -> Result<Response, DataError> {
        let mut notes = Vec::new();
        let mut found = self.local_file(normalized, version, file).await?;
        if found.is_none()
            && self
                .pull_through(normalized, version, file, &mut notes)
                .await?
        {
            found = self.local_file(normalized, version, file).await?;
        }
        let asset = found.ok_or_else(|| {
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
            .into_response();
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
                let from = PackageKey {
                    repository,
                    ..here.clone()
                };
                let wanted = entry.version;
                self.state
                    .store
                    .with(move |connection| -> Result<_, DataError> {
                        let transaction = store::write_transaction(connection)?;
                        packages::retain_from_repository(&transaction, &from, &here, &wanted)?;
                        transaction.commit()?;
                        Ok(())
                    })
                    .await?;
            }
            FileSource::External {
                owner,
                connection: connection_name,
                url,
                sha256,
            } => {
                let connection = self.state.externals.get(&connection_name).ok_or_else(|| {
                    DataError::not_found(format!("external connection `{connection_name}` is gone"))
                })?;
                let (bytes, digests) = self
                    .state
                    .externals
                    .fetch_verified(
                        connection,
                        &url,
                        sha256.as_deref().map(|sha256| ("sha256", sha256)),
                    )
                    .await
                    .map_err(|message| {
                        tracing::warn!(connection = %connection_name, %message, "refused upstream content");
                        DataError::new(
                            StatusCode::BAD_GATEWAY,
                            format!("refused `{file}` from {connection_name}: {message}; nothing was stored"),
                        )
                    })?;
                let size = bytes.len() as u64;
                self.state.store.put_blob(bytes).await?;
                let now = self.state.clock.now();
                let file_facts = json!({
                    "requires_python": entry.requires_python,
                    "upload_time": now,
                });
                let ingested = packages::Ingested {
                    version: entry.version.clone(),
                    metadata: Some(
                        json!({
                            "name": normalized,
                            "version": entry.version,
                            "files": { file: file_facts.clone() },
                        })
                        .to_string(),
                    ),
                    asset: AssetRow {
                        name: file.to_owned(),
                        size,
                        digests,
                    },
                    owner,
                    connection: connection_name.clone(),
                    now,
                };
                let file_name = file.to_owned();
                self.state
                    .store
                    .with(move |connection| -> Result<_, DataError> {
                        let transaction = store::write_transaction(connection)?;
                        packages::record_ingest(&transaction, &here, &ingested)?;
                        // A further file of a version already held: record its facts too.
                        for repository in [&ingested.owner, &here.repository] {
                            let key = PackageKey {
                                repository: repository.clone(),
                                ..here.clone()
                            };
                            if let Some(row) =
                                store::version(&transaction, &key, &ingested.version)?
                            {
                                let mut document: Value = row
                                    .metadata
                                    .as_deref()
                                    .and_then(|text| serde_json::from_str(text).ok())
                                    .filter(Value::is_object)
                                    .unwrap_or_else(|| json!({}));
                                if document["files"].get(&file_name).is_none() {
                                    if !document["files"].is_object() {
                                        document["files"] = json!({});
                                    }
                                    document["files"][&file_name] = file_facts.clone();
                                    store::update_version_metadata(
                                        &transaction,
                                        row.id,
                                        &document.to_string(),
                                        &row.revision,
                                    )?;
                                }
                            }
                        }
                        transaction.commit()?;
                        Ok(())
                    })
                    .await?;
                tracing::info!(connection = %connection_name, %file, "ingested from an external connection");
            }
        }
        Ok(true)
    }

    async fn upload(
        &self,
        body: Bytes,
        principal: Option<&Principal>,
    ) -> Result<Response, DataError> {
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let bad = |error: multipart::MultipartError| DataError::bad_request(error.to_string());
        let boundary = multipart::boundary(content_type).map_err(bad)?;
        let parts = multipart::parse(&body, &boundary).map_err(bad)?;
        let form = UploadForm::from_parts(parts)?;
        let upload = form.validate()?;

        // Hash before storing anything, so a mismatch leaves no trace.
        let content = upload.content.clone();
        let (digests, blake2_256) = tokio::task::spawn_blocking(move || {
            let blake2_256 = hex::encode(blake2::Blake2b::<blake2::digest::consts::U32>::digest(
                &content,
            ));
            (Digests::of(&content), blake2_256)
        })
        .await
        .map_err(|error| {
            DataError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("hashing failed: {error}"),
            )
        })?;
        upload.verify_digests(&digests, &blake2_256)?;
        let stored = self.state.store.put_blob(upload.content.clone()).await?;
        let asset = AssetRow {
            name: upload.file.clone(),
            size: upload.content.len() as u64,
            digests: stored,
        };
        let now = self.state.clock.now();
        let file_facts = json!({
            "requires_python": upload.requires_python,
            "upload_time": now,
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
                let revision = super::control::new_revision();
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
                        match super::packages::admit_publish(&transaction, &key) {
                            Ok(()) => {}
                            Err(super::packages::AdmitError::Blocked) => {
                                return Ok(Err(DataError::new(
                                    StatusCode::FORBIDDEN,
                                    format!("publishing {name} is blocked by its package origin configuration (publish=BLOCK)"),
                                )));
                            }
                            Err(super::packages::AdmitError::Sqlite(error)) => return Err(error.into()),
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
        outcome?;
        tracing::info!(project = %upload.name, version = %upload.version, file = %upload.file, "pypi upload");
        Ok((StatusCode::OK, "OK\n").into_response())
    }
}

/// The fields of a `file_upload` form.
#[derive(Debug, Default)]
struct UploadForm {
    fields: Vec<(String, String)>,
    content: Option<(String, Bytes)>,
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
    content: Bytes,
    sha256: Option<String>,
    md5: Option<String>,
    blake2_256: Option<String>,
    metadata: Map<String, Value>,
}

impl UploadForm {
    fn from_parts(parts: Vec<multipart::Part>) -> Result<Self, DataError> {
        let mut form = Self::default();
        for part in parts {
            if part.name == "content" {
                let file = part.filename.clone().ok_or_else(|| {
                    DataError::bad_request("the `content` part must be a file with a filename")
                })?;
                if form.content.replace((file, part.data)).is_some() {
                    return Err(DataError::bad_request("more than one `content` part"));
                }
            } else if part.filename.is_none() {
                let value = part.text();
                form.fields.push((part.name, value));
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

    fn validate(self) -> Result<Upload, DataError> {
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
        let Some((file, content)) = self.content.clone() else {
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
    fn upstream_pages_are_read_as_html_or_json() {
        let page = url::Url::parse("http://upstream.test/simple/demo/").unwrap();
        let html = br#"<html><body><h1>Links</h1>
<a href="/packages/demo-1.0.tar.gz#sha256=ABC">demo-1.0.tar.gz</a><br>
<A data-requires-python="&gt;=3.8" HREF='../../x/demo-1.1-py3-none-any.whl'>demo-1.1-py3-none-any.whl</A>
</body></html>"#;
        let files = parse_upstream_page(html, &page).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].file, "demo-1.0.tar.gz");
        assert_eq!(
            files[0].url.as_str(),
            "http://upstream.test/packages/demo-1.0.tar.gz"
        );
        assert_eq!(files[0].sha256.as_deref(), Some("abc"));
        assert_eq!(
            files[1].url.as_str(),
            "http://upstream.test/x/demo-1.1-py3-none-any.whl"
        );
        assert_eq!(files[1].sha256, None);
        assert_eq!(files[1].requires_python.as_deref(), Some(">=3.8"));
        let json = br#"{"meta":{"api-version":"1.0"},"name":"demo","files":[{"filename":"demo-2.0.tar.gz","url":"https://files.test/demo-2.0.tar.gz","hashes":{"sha256":"DEF"},"requires-python":">=3.9"}]}"#;
        let files = parse_upstream_page(json, &page).unwrap();
        assert_eq!(files[0].url.as_str(), "https://files.test/demo-2.0.tar.gz");
        assert_eq!(files[0].sha256.as_deref(), Some("def"));
        assert_eq!(files[0].requires_python.as_deref(), Some(">=3.9"));
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
            content: Some((file.to_owned(), Bytes::from_static(content))),
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
