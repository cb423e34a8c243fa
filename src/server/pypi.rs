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
//! version's metadata JSON under `files`. Errors carry their message in the HTTP reason
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
use super::store::{self, AssetRow, Digests, PackageKey, VersionRow};
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
    let mut segments = path.splitn(6, '/');
    let (_, _, domain, _, repository, rest) = (
        segments.next(),
        segments.next(),
        segments.next().unwrap_or_default(),
        segments.next(),
        segments.next().unwrap_or_default(),
        segments.next().unwrap_or_default(),
    );
    let request = PypiRequest {
        state: &state,
        domain: decode(domain),
        repository: decode(repository),
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
    url: String,
    sha256: String,
    size: u64,
    requires_python: Option<String>,
    upload_time: f64,
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

    async fn project_page(&self, normalized: &str) -> Result<Response, DataError> {
        let format = self.negotiate()?;
        let key = self.key(normalized);
        let versions = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let mut versions = Vec::new();
                for row in store::versions(connection, &key)? {
                    if row.status == "Published" {
                        let assets = store::assets(connection, row.id)?;
                        versions.push((row, assets));
                    }
                }
                Ok(versions)
            })
            .await?;
        if versions.is_empty() {
            return Err(DataError::not_found(format!(
                "project `{normalized}` not found in `{}/{}`",
                self.domain, self.repository
            )));
        }
        let endpoint = self.endpoint();
        let mut files = Vec::new();
        for (row, assets) in &versions {
            let metadata: Value = row
                .metadata
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or(Value::Null);
            for asset in assets {
                let facts = &metadata["files"][&asset.name];
                files.push(FileEntry {
                    file: asset.name.clone(),
                    url: format!(
                        "{endpoint}files/{}/{}/{}",
                        encode(normalized),
                        encode(&row.version),
                        encode(&asset.name)
                    ),
                    sha256: asset.digests.sha256.clone(),
                    size: asset.size,
                    requires_python: facts["requires_python"]
                        .as_str()
                        .filter(|text| !text.is_empty())
                        .map(ToOwned::to_owned),
                    upload_time: facts["upload_time"].as_f64().unwrap_or(row.published),
                });
            }
        }
        let body = match format {
            SimpleFormat::Json => json!({
                "meta": { "api-version": SIMPLE_API_VERSION },
                "name": normalized,
                "versions": versions.iter().map(|(row, _)| row.version.clone()).collect::<Vec<_>>(),
                "files": files.iter().map(|file| {
                    let mut entry = json!({
                        "filename": file.file,
                        "url": file.url,
                        "hashes": { "sha256": file.sha256 },
                        "yanked": false,
                        "size": file.size,
                        "upload-time": upload_time(file.upload_time),
                    });
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
                for file in &files {
                    let requires_python = file
                        .requires_python
                        .as_deref()
                        .map(|text| format!(" data-requires-python=\"{}\"", escape_html(text)))
                        .unwrap_or_default();
                    let _ = writeln!(
                        html,
                        "    <a href=\"{}#sha256={}\"{requires_python}>{}</a><br/>",
                        escape_html(&file.url),
                        file.sha256,
                        escape_html(&file.file)
                    );
                }
                html.push_str("  </body>\n</html>\n");
                html
            }
        };
        Ok(simple_response(format, body))
    }

    async fn download(
        &self,
        normalized: &str,
        version: &str,
        file: &str,
    ) -> Result<Response, DataError> {
        let key = self.key(normalized);
        let (wanted_version, wanted_file) = (version.to_owned(), file.to_owned());
        let found = self
            .state
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
            .await?;
        let asset = found.ok_or_else(|| {
            DataError::not_found(format!("`{file}` of {normalized} {version} not found"))
        })?;
        let bytes = self
            .state
            .store
            .read_blob(asset.digests.sha256.clone())
            .await?;
        let mut response = (StatusCode::OK, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if let Ok(value) = HeaderValue::from_str(&asset.digests.sha256) {
            headers.insert("x-checksum-sha256", value);
        }
        Ok(response)
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
