//! The RubyGems data plane at `/d/{domain}/ruby/{repository}/` (the endpoint E that
//! `GetRepositoryEndpoint` returns for `ruby`).
//!
//! ```text
//! POST   E api/v1/gems          gem push (the body is the .gem)
//! DELETE E api/v1/gems/yank     gem yank (form: gem_name, version[, platform])
//! GET    E versions             compact index: every gem, its versions, the md5 of its info
//! GET    E info/{gem}           compact index: one line per file, dependencies and checksum
//! GET    E names                compact index: every gem name
//! GET    E gems/{file}.gem      a gem (`Range` requests answered)
//! GET    E quick/Marshal.4.8/{name}-{version}[-{platform}].gemspec.rz
//!                               the gemspec as Marshal (RubyGems 3.3's `gem install` reads it)
//! HEAD   E                      200: RubyGems probes the source before using `info/`
//! ```
//!
//! Every request needs a repository token: `gem push` and `gem yank` send it as the
//! `Authorization` header itself (`GEM_HOST_API_KEY`, or `~/.gem/credentials`), bundler and
//! `gem install --source http://aws:<token>@…` as HTTP Basic (`aws:<token>`); Bearer works
//! too. Reads need `read`, push and yank `publish`.
//!
//! Each pushed `.gem` is an asset of its version (format `ruby`, no namespace, package = the
//! gem name; a platform gem is a further asset of the same version); the gemspec read from
//! its `metadata.gz` is kept in the version's metadata under `files`, and the compact index
//! and Marshal gemspec are built from it. A version's status is CodeArtifact's: the index
//! lists `Published` versions, and `Published` and `Unlisted` ones download. `gem yank`
//! (which CodeArtifact itself does not support) sets the version `Archived`: gone from the
//! index and not downloadable, as rubygems.org treats a yanked gem, and restorable with
//! `UpdatePackageVersionsStatus`. Pushing a file that exists is refused (409), as
//! rubygems.org refuses a repush.
//!
//! Reads fall through to upstream repositories and external connections (see
//! `packages::read_sources`): `info/{gem}` merges the lines an upstream compact index
//! (rubygems.org's, `public:ruby-gems-org`) offers, `versions` and `names` merge the
//! upstream's files, and a download of a gem held elsewhere retains it here; one from an
//! external connection is fetched, checked against the `checksum:` of the upstream's info
//! line (none: refused, nothing stored), and recorded with EXTERNAL origin in the repository
//! owning the connection and here.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::compact_index::{self, InfoLine, VersionsLine};
use super::gem::{GemSpec, is_valid_name, is_valid_platform, is_valid_version};
use crate::format::Format;
use crate::server::AppState;
use crate::server::access::{self, Permission, Principal};
use crate::server::data_plane::{DataPlane, DataRequest, Handling, data_request};
use crate::server::decode_segment as decode;
use crate::server::error::DataError;
use crate::server::packages;
use crate::server::pull_through::{self, UpstreamAdapter, UpstreamReader};
use crate::server::store::{self, AssetRow, PackageKey, VersionRow};
use crate::server::upstream::{add_notes, with_notes};

/// The format.
const FORMAT: Format = Format::Ruby;

/// Statuses whose files can be downloaded.
const DOWNLOADABLE: &[&str] = &["Published", "Unlisted"];

/// The status `gem yank` sets.
const YANKED: &str = "Archived";

/// The most a yank form may be.
const MAX_FORM_BYTES: u64 = 64 * 1024;

/// The RubyGems data plane, as `lading serve` mounts it.
#[derive(Debug)]
pub struct RubyDataPlane;

impl DataPlane for RubyDataPlane {
    fn format(&self) -> Format {
        FORMAT
    }

    fn handle(&self, state: Arc<AppState>, request: Request) -> Handling {
        Box::pin(handle(State(state), request))
    }

    fn serves_endpoint_itself(&self) -> bool {
        true
    }
}

/// What a path under the RubyGems endpoint addresses.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Root,
    Push,
    Yank,
    Versions,
    Names,
    Info(String),
    Gem(String),
    Gemspec(String),
    Unsupported(String),
}

#[expect(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "RubyGems names its files `.gem` and `.gemspec.rz` exactly"
)]
fn parse_target(rest: &str) -> Target {
    let segments: Vec<String> = rest.split('/').map(decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        [""] => Target::Root,
        ["api", "v1", "gems"] => Target::Push,
        ["api", "v1", "gems", "yank"] => Target::Yank,
        ["versions"] => Target::Versions,
        ["names"] => Target::Names,
        ["info", name] if is_valid_name(name) => Target::Info((*name).to_owned()),
        ["gems", file] if file.ends_with(".gem") => Target::Gem((*file).to_owned()),
        ["quick", "Marshal.4.8", file] if file.ends_with(".gemspec.rz") => {
            Target::Gemspec((*file).to_owned())
        }
        _ => Target::Unsupported(rest.to_owned()),
    }
}

/// The `(name, version, platform)` readings of `name-version[-platform]`: a gem name may
/// hold `-` followed by a digit, so each split where a version can start is a candidate.
fn full_name_candidates(stem: &str) -> Vec<(String, String, String)> {
    stem.match_indices('-')
        .filter_map(|(at, _)| {
            let (name, rest) = (&stem[..at], &stem[at + 1..]);
            let (version, platform) = rest.split_once('-').unwrap_or((rest, "ruby"));
            (is_valid_name(name) && is_valid_version(version) && is_valid_platform(platform))
                .then(|| (name.to_owned(), version.to_owned(), platform.to_owned()))
        })
        .collect()
}

/// Entry point for `/d/{domain}/ruby/{repository}/` and everything below it.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let (domain, repository, rest) = crate::server::split_data_path(&path);
    let headers = api_key_as_bearer(&parts.headers);
    let request = RubyRequest {
        request: DataRequest::new(&state, &headers, domain, repository),
        query: parts.uri.query().unwrap_or_default().to_owned(),
    };
    match request.serve(&parts.method, parse_target(rest), body).await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(status = %error.status, message = %error.message, %path, "ruby request refused");
            error_response(error)
        }
    }
}

/// `gem push` and `gem yank` send the API key as the whole `Authorization` value; read it
/// as the Bearer token it is.
fn api_key_as_bearer(headers: &HeaderMap) -> HeaderMap {
    let mut headers = headers.clone();
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    {
        let scheme = value
            .split_once(' ')
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("bearer" | "basic"))
            && let Ok(bearer) = HeaderValue::from_str(&format!("Bearer {}", value.trim()))
        {
            headers.insert(header::AUTHORIZATION, bearer);
        }
    }
    headers
}

/// A [`DataError`] as `gem` prints it: the message as plain text (gem shows the body), with
/// a Basic challenge on 401 so bundler asks for credentials.
fn error_response(error: DataError) -> Response {
    let DataError { status, message } = error;
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"lading\""),
        );
    }
    response
}

/// A compact-index document: `ETag` is the md5 of the body (bundler checks it), and an
/// `If-None-Match` naming it gets 304.
fn index_response(request: &HeaderMap, body: String) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", compact_index::md5_hex(body.as_bytes())))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    if let Some(response) = crate::server::cache::not_modified(request, &etag) {
        return response;
    }
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::ETAG, etag);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

data_request! {
    struct RubyRequest {
        query: String,
    }
}

/// Where a listed gem file lives.
#[derive(Debug, Clone)]
enum FileSource {
    /// Held by this repository or one of its upstream repositories.
    Repository(String),
    /// Offered by the external connection `connection`, owned by repository `owner`.
    External {
        owner: String,
        connection: String,
        sha256: Option<String>,
    },
}

/// One gem file a repository can serve.
#[derive(Debug, Clone)]
struct GemFile {
    file: String,
    version: String,
    /// Its compact-index line.
    line: String,
    source: FileSource,
}

/// The files a repository can serve for a gem.
struct View {
    files: Vec<GemFile>,
    notes: Vec<String>,
    upstream_blocked: bool,
}

/// What lading keeps about one gem file in its version's metadata.
fn file_facts(line: &str, spec: Option<&GemSpec>, uploader: Option<&str>) -> Value {
    json!({ "line": line, "spec": spec, "uploader": uploader })
}

/// The facts kept about `file` in a version's metadata: its index line and its gemspec.
fn facts_of(row: &VersionRow, file: &str) -> (Option<String>, Option<GemSpec>) {
    let document: Value = row
        .metadata
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    let facts = &document["files"][file];
    (
        facts["line"].as_str().map(ToOwned::to_owned),
        serde_json::from_value(facts["spec"].clone()).ok(),
    )
}

/// An external connection's `info/{gem}`.
struct InfoOf<'a>(&'a str);

impl UpstreamAdapter for InfoOf<'_> {
    const FORMAT: Format = FORMAT;
    type Document = Vec<InfoLine>;

    async fn read(
        &self,
        upstream: &mut UpstreamReader<'_>,
    ) -> Result<Option<Self::Document>, String> {
        let path = format!("info/{}", self.0);
        let url = upstream.join(&path)?;
        let Some(body) = upstream.document(&url, "text/plain", &path).await? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&body);
        compact_index::parse_info(&text)
            .map(Some)
            .map_err(|error| upstream.invalid(&path, error))
    }
}

/// An external connection's `versions` or `names` file, as sent.
struct IndexFile(&'static str);

impl UpstreamAdapter for IndexFile {
    const FORMAT: Format = FORMAT;
    type Document = Bytes;

    async fn read(
        &self,
        upstream: &mut UpstreamReader<'_>,
    ) -> Result<Option<Self::Document>, String> {
        let url = upstream.join(self.0)?;
        upstream.document(&url, "text/plain", self.0).await
    }
}

impl RubyRequest<'_> {
    async fn serve(
        &self,
        method: &Method,
        target: Target,
        body: axum::body::Body,
    ) -> Result<Response, DataError> {
        let principal = access::authenticate_token(self.state, self.headers, &self.domain).await?;
        let principal = principal.as_ref();
        let permission = match *method {
            Method::POST | Method::DELETE | Method::PUT => Permission::Publish,
            _ => Permission::Read,
        };
        access::require(principal, &self.domain, &self.repository, permission)?;
        self.require_repository().await?;
        match (method.as_str(), target) {
            ("GET" | "HEAD", Target::Root) => Ok((
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "lading serve: RubyGems repository (compact index: versions, info/<gem>, names)\n",
            )
                .into_response()),
            ("POST", Target::Push) => self.push(body, principal).await,
            ("DELETE", Target::Yank) => self.yank(body).await,
            ("GET" | "HEAD", Target::Versions) => self.versions().await,
            ("GET" | "HEAD", Target::Names) => self.names().await,
            ("GET" | "HEAD", Target::Info(name)) => self.info(&name).await,
            ("GET" | "HEAD", Target::Gem(file)) => self.download(&file).await,
            ("GET" | "HEAD", Target::Gemspec(file)) => self.gemspec(&file).await,
            (_, Target::Unsupported(path)) => Err(DataError::not_found(format!(
                "`{path}` is not part of lading serve's RubyGems repository (see `versions`, `info/<gem>`, `gems/<file>`)"
            ))),
            (method, _) => Err(DataError::method_not_allowed(method)),
        }
    }

    fn key(&self, name: &str) -> PackageKey {
        self.package_key(FORMAT, String::new(), name.to_owned())
    }

    /// `gem push`: read the gemspec from the `.gem`, refuse a file that exists, record the
    /// version (or a further platform file of it).
    async fn push(
        &self,
        body: axum::body::Body,
        principal: Option<&Principal>,
    ) -> Result<Response, DataError> {
        let limits = self.state.limits;
        let spool = crate::server::ingest::spool(
            self.state.store.tmp_dir(),
            body,
            limits.max_upload_bytes,
            limits,
        )
        .await?;
        let reader = spool
            .reader()
            .map_err(crate::server::ingest::BodyError::Io)?;
        let parsed = crate::server::ingest::blocking(move || {
            Ok(GemSpec::from_gem(std::io::BufReader::new(reader)))
        })
        .await?;
        let spec = match parsed {
            Ok(spec) => spec,
            Err(error) => {
                drop(spool);
                let _ = crate::server::ingest::sweep_tmp(self.state.store.tmp_dir());
                return Err(DataError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("{error}; push a `.gem` built by `gem build`"),
                ));
            }
        };
        let size = spool.size();
        let placed = self.state.store.put_spool(spool).await?;
        let file = spec.file_name();
        let asset = AssetRow {
            name: file.clone(),
            size,
            digests: placed.digests.clone(),
        };
        let line = compact_index::info_line(&spec, &asset.digests.sha256);
        let facts = file_facts(
            &line,
            Some(&spec),
            principal.map(|principal| principal.name.as_str()),
        );
        let key = self.key(&spec.name);
        let now = self.state.clock.now();
        let (name, version) = (spec.name.clone(), spec.version.clone());
        let outcome = self
            .state
            .store
            .with(move |connection| -> Result<Result<(), DataError>, DataError> {
                let transaction = store::write_transaction(connection)?;
                if store::find_asset(&transaction, &key, &file)?.is_some() {
                    return Ok(Err(DataError::new(
                        StatusCode::CONFLICT,
                        format!("Repushing of gem versions is not allowed: `{file}` is already in this repository. Push a new version instead."),
                    )));
                }
                let revision = store::new_revision();
                match store::version(&transaction, &key, &version)? {
                    Some(row) if !matches!(row.status.as_str(), "Published" | "Unfinished" | "Unlisted") => {
                        return Ok(Err(DataError::new(
                            StatusCode::CONFLICT,
                            format!("{name} {version} is {}; files cannot be added to it (restore it with `aws codeartifact update-package-versions-status`)", row.status),
                        )));
                    }
                    Some(row) => {
                        let mut document: Value = row
                            .metadata
                            .as_deref()
                            .and_then(|text| serde_json::from_str(text).ok())
                            .filter(Value::is_object)
                            .unwrap_or_else(|| json!({ "name": name, "version": version }));
                        if !document["files"].is_object() {
                            document["files"] = json!({});
                        }
                        document["files"][&file] = facts;
                        store::update_version_metadata(&transaction, row.id, &document.to_string(), &revision)?;
                        if row.status == "Unfinished" {
                            store::update_version_status(&transaction, row.id, "Published", &revision)?;
                        }
                        store::insert_asset(&transaction, row.id, &asset)?;
                    }
                    None => {
                        if let Err(refused) = packages::admit_publish(&transaction, &key) {
                            return Ok(Err(DataError::new(StatusCode::FORBIDDEN, refused.refusal(&name)?)));
                        }
                        let row = VersionRow {
                            id: 0,
                            version: version.clone(),
                            revision,
                            status: "Published".to_owned(),
                            published: now,
                            metadata: Some(
                                json!({ "name": name, "version": version, "files": { file.clone(): facts } })
                                    .to_string(),
                            ),
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
        tracing::info!(gem = %spec.name, version = %spec.version, platform = %spec.platform, "gem push");
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "Successfully registered gem: {} ({})",
                spec.name,
                if spec.platform == "ruby" {
                    spec.version.clone()
                } else {
                    format!("{}-{}", spec.version, spec.platform)
                }
            ),
        )
            .into_response())
    }

    /// `gem yank`: the version becomes `Archived` (see the module docs).
    async fn yank(&self, body: axum::body::Body) -> Result<Response, DataError> {
        let limits = self.state.limits;
        let form = crate::server::ingest::read_small(body, MAX_FORM_BYTES, limits).await?;
        // `gem yank` sends a form body; other clients put the fields in the query.
        let mut query = self.query.clone();
        query.push('&');
        query.push_str(&String::from_utf8_lossy(&form));
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let field = |name: &str| {
            fields
                .iter()
                .rev()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let name = field("gem_name").ok_or_else(|| DataError::bad_request("missing `gem_name`"))?;
        let version = field("version").ok_or_else(|| {
            DataError::bad_request("missing `version`: yank with `gem yank NAME -v VERSION`")
        })?;
        if !is_valid_name(&name) || !is_valid_version(&version) {
            return Err(DataError::bad_request("invalid `gem_name` or `version`"));
        }
        let key = self.key(&name);
        let (wanted, gem) = (version.clone(), name.clone());
        self.state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let transaction = store::write_transaction(connection)?;
                let Some(row) = store::version(&transaction, &key, &wanted)? else {
                    return Err(DataError::not_found(format!(
                        "The version {wanted} does not exist for {gem} in this repository."
                    )));
                };
                if !DOWNLOADABLE.contains(&row.status.as_str()) {
                    return Err(DataError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!(
                            "The version {wanted} of {gem} has already been yanked (it is {}).",
                            row.status
                        ),
                    ));
                }
                store::update_version_status(&transaction, row.id, YANKED, &store::new_revision())?;
                transaction.commit()?;
                Ok(())
            })
            .await?;
        tracing::info!(gem = %name, %version, "gem yank");
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("Successfully deleted gem: {name} ({version})"),
        )
            .into_response())
    }

    /// Every file this repository can serve for a gem: its own, its upstream repositories'
    /// (depth-first), then its external connections' (unless origin controls block
    /// upstreams), each file once.
    async fn view(&self, name: &str) -> Result<View, DataError> {
        let key = self.key(name);
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
                        held.push((repository, row, assets));
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
            for asset in assets {
                if view.files.iter().any(|file| file.file == asset.name) {
                    continue;
                }
                let (line, spec) = facts_of(&row, &asset.name);
                let Some(line) = line.or_else(|| {
                    spec.map(|spec| compact_index::info_line(&spec, &asset.digests.sha256))
                }) else {
                    continue;
                };
                view.files.push(GemFile {
                    file: asset.name,
                    version: row.version.clone(),
                    line,
                    source: FileSource::Repository(repository.clone()),
                });
            }
        }
        let upstream = pull_through::offers(self.state, &sources.externals, &InfoOf(name)).await;
        view.notes = upstream.notes;
        for offer in upstream.offers {
            for line in offer.document {
                let file = line.file_name(name);
                if view.files.iter().any(|held| held.file == file) {
                    continue;
                }
                view.files.push(GemFile {
                    file,
                    version: line.version.clone(),
                    line: line.line.clone(),
                    source: FileSource::External {
                        owner: offer.owner.clone(),
                        connection: offer.connection.clone(),
                        sha256: line.sha256.clone(),
                    },
                });
            }
        }
        Ok(view)
    }

    async fn info(&self, name: &str) -> Result<Response, DataError> {
        let view = self.view(name).await?;
        if view.files.is_empty() {
            return Err(pull_through::not_found(
                format!(
                    "gem `{name}` not found in `{}/{}`",
                    self.domain, self.repository
                ),
                view.upstream_blocked,
                &view.notes,
            ));
        }
        let body = compact_index::info_file(view.files.iter().map(|file| file.line.as_str()));
        let mut response = index_response(self.headers, body);
        add_notes(&mut response, &view.notes);
        Ok(response)
    }

    /// The gems this repository and its upstream repositories list (`Published` versions),
    /// each with its versions and the md5 of the info file built from what they hold, plus
    /// the newest publish time.
    async fn held_versions(
        &self,
    ) -> Result<(Vec<VersionsLine>, f64, packages::ExternalSources), DataError> {
        let key = self.key("");
        let reader = access::reader(self.state, self.headers, &self.domain).await?;
        self.state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let sources = packages::read_sources(connection, &key, reader.as_ref())?;
                let mut gems: Vec<(VersionsLine, Vec<String>)> = Vec::new();
                let mut newest = 0.0_f64;
                for repository in &sources.repositories {
                    for summary in store::packages(
                        connection,
                        &key.domain,
                        repository,
                        Some(FORMAT.name()),
                        Some(""),
                        None,
                    )? {
                        let package_key = PackageKey {
                            repository: repository.clone(),
                            package: summary.package.clone(),
                            ..key.clone()
                        };
                        let at = if let Some(at) =
                            gems.iter().position(|(gem, _)| gem.name == summary.package)
                        {
                            at
                        } else {
                            gems.push((
                                VersionsLine {
                                    name: summary.package.clone(),
                                    versions: Vec::new(),
                                    info_md5: String::new(),
                                },
                                Vec::new(),
                            ));
                            gems.len() - 1
                        };
                        for row in store::versions(connection, &package_key)? {
                            if row.status != "Published" {
                                continue;
                            }
                            newest = newest.max(row.published);
                            for asset in store::assets(connection, row.id)? {
                                let (line, spec) = facts_of(&row, &asset.name);
                                let Some(line) = line.or_else(|| {
                                    spec.map(|spec| {
                                        compact_index::info_line(&spec, &asset.digests.sha256)
                                    })
                                }) else {
                                    continue;
                                };
                                let entry = line.split(' ').next().unwrap_or_default().to_owned();
                                let (gem, lines) = &mut gems[at];
                                if !gem.versions.contains(&entry) {
                                    gem.versions.push(entry);
                                    lines.push(line);
                                }
                            }
                        }
                    }
                }
                let lines = gems
                    .into_iter()
                    .map(|(mut gem, lines)| {
                        gem.info_md5 = compact_index::md5_hex(
                            compact_index::info_file(lines.iter().map(String::as_str)).as_bytes(),
                        );
                        gem
                    })
                    .collect();
                Ok((lines, newest, sources.externals))
            })
            .await
    }

    async fn versions(&self) -> Result<Response, DataError> {
        let (mut gems, newest, externals) = self.held_versions().await?;
        let upstream = pull_through::offers(self.state, &externals, &IndexFile("versions")).await;
        for offer in &upstream.offers {
            for line in compact_index::parse_versions(&String::from_utf8_lossy(&offer.document)) {
                if let Some(gem) = gems.iter_mut().find(|gem| gem.name == line.name) {
                    for version in line.versions {
                        if !gem.versions.contains(&version) {
                            gem.versions.push(version);
                        }
                    }
                } else {
                    gems.push(line);
                }
            }
        }
        gems.sort_by(|left, right| left.name.cmp(&right.name));
        let created_at = access::iso8601(newest);
        let mut response = index_response(
            self.headers,
            compact_index::versions_file(&created_at, &gems),
        );
        add_notes(&mut response, &upstream.notes);
        Ok(response)
    }

    async fn names(&self) -> Result<Response, DataError> {
        let (gems, _, externals) = self.held_versions().await?;
        let mut names: Vec<String> = gems
            .into_iter()
            .filter(|gem| !gem.versions.is_empty())
            .map(|gem| gem.name)
            .collect();
        let upstream = pull_through::offers(self.state, &externals, &IndexFile("names")).await;
        for offer in &upstream.offers {
            names.extend(compact_index::parse_names(&String::from_utf8_lossy(
                &offer.document,
            )));
        }
        names.sort();
        names.dedup();
        let mut body = String::from("---\n");
        for name in names {
            body.push_str(&name);
            body.push('\n');
        }
        let mut response = index_response(self.headers, body);
        add_notes(&mut response, &upstream.notes);
        Ok(response)
    }

    /// A downloadable file of this repository (its version row and asset), for any reading
    /// of `stem` as `name-version[-platform]`.
    async fn local_file(
        &self,
        file: &str,
    ) -> Result<Option<(String, VersionRow, AssetRow)>, DataError> {
        let stem = file.strip_suffix(".gem").unwrap_or(file);
        let candidates = full_name_candidates(stem);
        let key = self.key("");
        let wanted = format!("{stem}.gem");
        self.state
            .store
            .with(move |connection| -> Result<_, DataError> {
                for (name, version, _) in candidates {
                    let key = PackageKey {
                        package: name.clone(),
                        ..key.clone()
                    };
                    let Some(row) = store::version(connection, &key, &version)?
                        .filter(|row| DOWNLOADABLE.contains(&row.status.as_str()))
                    else {
                        continue;
                    };
                    if let Some(asset) = store::assets(connection, row.id)?
                        .into_iter()
                        .find(|asset| asset.name == wanted)
                    {
                        return Ok(Some((name, row, asset)));
                    }
                }
                Ok(None)
            })
            .await
    }

    /// A file held here, else brought here from where the view says it lives.
    async fn find_or_pull(
        &self,
        file: &str,
        notes: &mut Vec<String>,
    ) -> Result<Option<(String, VersionRow, AssetRow)>, DataError> {
        if let Some(found) = self.local_file(file).await? {
            return Ok(Some(found));
        }
        let stem = file.strip_suffix(".gem").unwrap_or(file);
        for (name, version, _) in full_name_candidates(stem) {
            if self.pull_through(&name, &version, file, notes).await? {
                return self.local_file(file).await;
            }
        }
        Ok(None)
    }

    async fn download(&self, file: &str) -> Result<Response, DataError> {
        let mut notes = Vec::new();
        let (_, _, asset) = self.find_or_pull(file, &mut notes).await?.ok_or_else(|| {
            with_notes(
                DataError::not_found(format!(
                    "`{file}` not found in `{}/{}`",
                    self.domain, self.repository
                )),
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

    /// `quick/Marshal.4.8/<full name>.gemspec.rz`, built from the gemspec kept for the
    /// `.gem` (pulled through first when an upstream offers it: the gem is verified against
    /// its checksum, the upstream's Marshal file could not be).
    async fn gemspec(&self, file: &str) -> Result<Response, DataError> {
        let stem = file.strip_suffix(".gemspec.rz").unwrap_or(file);
        let gem = format!("{stem}.gem");
        let mut notes = Vec::new();
        let missing = |notes: &[String]| {
            with_notes(
                DataError::not_found(format!(
                    "`{file}` not found in `{}/{}`",
                    self.domain, self.repository
                )),
                notes,
            )
        };
        let Some((_, row, asset)) = self.find_or_pull(&gem, &mut notes).await? else {
            return Err(missing(&notes));
        };
        // Kept when the gem was pushed or pulled through; read from the gem otherwise.
        let spec = if let Some(spec) = facts_of(&row, &asset.name).1 {
            spec
        } else {
            let bytes = self
                .state
                .store
                .read_blob(asset.digests.sha256.clone())
                .await?;
            crate::server::ingest::blocking(move || {
                Ok(GemSpec::from_gem(std::io::Cursor::new(bytes)))
            })
            .await?
            .map_err(|error| {
                DataError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the stored `{gem}` is unreadable: {error}"),
                )
            })?
        };
        let today = access::iso8601(row.published)
            .chars()
            .take(10)
            .collect::<String>();
        let mut response = Bytes::from(super::marshal::gemspec_rz(&spec, &today)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        add_notes(&mut response, &notes);
        Ok(response)
    }

    /// Bring `file` (of gem `name`, `version`) here from where the view says it lives: retain
    /// it from an upstream repository, or fetch it from an external connection, verify it
    /// against the upstream's `checksum:`, read its gemspec and record it in the repository
    /// owning the connection and here. Returns whether anything was found.
    async fn pull_through(
        &self,
        name: &str,
        version: &str,
        file: &str,
        notes: &mut Vec<String>,
    ) -> Result<bool, DataError> {
        let view = self.view(name).await?;
        notes.extend(view.notes.iter().cloned());
        let Some(entry) = view
            .files
            .into_iter()
            .find(|entry| entry.file == file && entry.version == version)
        else {
            return Ok(false);
        };
        let here = self.key(name);
        match entry.source {
            FileSource::Repository(repository) => {
                pull_through::retain(self.state, &repository, &here, &entry.version).await?;
            }
            FileSource::External {
                owner,
                connection: connection_name,
                sha256,
            } => {
                let connection = pull_through::connection(self.state, &connection_name)?;
                let url = connection
                    .url
                    .join(&format!("gems/{file}"))
                    .map_err(|error| {
                        pull_through::refused(
                            &connection_name,
                            &format!("`{file}`"),
                            &error.to_string(),
                        )
                    })?;
                let (bytes, digests) = pull_through::fetch_verified(
                    self.state,
                    connection,
                    &format!("`{file}`"),
                    &url,
                    sha256.as_deref().map(|sha256| ("sha256", sha256)),
                )
                .await?;
                let content = bytes.clone();
                let spec = crate::server::ingest::blocking(move || {
                    Ok(GemSpec::from_gem(std::io::Cursor::new(content)))
                })
                .await?;
                let spec = match spec {
                    Ok(spec) if spec.file_name() == file => spec,
                    Ok(spec) => {
                        return Err(pull_through::refused(
                            &connection_name,
                            &format!("`{file}`"),
                            &format!("it is the gem `{}`", spec.file_name()),
                        ));
                    }
                    Err(error) => {
                        return Err(pull_through::refused(
                            &connection_name,
                            &format!("`{file}`"),
                            &error.to_string(),
                        ));
                    }
                };
                let facts = file_facts(&entry.line, Some(&spec), None);
                let pulled = pull_through::Pulled {
                    here,
                    owner,
                    connection: connection_name,
                    version: entry.version.clone(),
                    file: file.to_owned(),
                    metadata: None,
                };
                pull_through::store_with_file_facts(
                    self.state, pulled, name, facts, bytes, digests,
                )
                .await?;
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_targets() {
        assert_eq!(parse_target(""), Target::Root);
        assert_eq!(parse_target("api/v1/gems"), Target::Push);
        assert_eq!(parse_target("api/v1/gems/yank"), Target::Yank);
        assert_eq!(parse_target("info/rack"), Target::Info("rack".to_owned()));
        assert_eq!(
            parse_target("info/..%2Fx"),
            Target::Unsupported("info/..%2Fx".to_owned())
        );
        assert_eq!(
            parse_target("gems/rack-3.0.0.gem"),
            Target::Gem("rack-3.0.0.gem".to_owned())
        );
        assert_eq!(
            parse_target("quick/Marshal.4.8/rack-3.0.0.gemspec.rz"),
            Target::Gemspec("rack-3.0.0.gemspec.rz".to_owned())
        );
    }

    #[test]
    fn file_names_read_every_way_a_name_can_hold_a_dash() {
        assert_eq!(
            full_name_candidates("net-http-0.4.1"),
            vec![("net-http".to_owned(), "0.4.1".to_owned(), "ruby".to_owned())]
        );
        assert_eq!(
            full_name_candidates("nokogiri-1.16.0-x86_64-linux"),
            vec![(
                "nokogiri".to_owned(),
                "1.16.0".to_owned(),
                "x86_64-linux".to_owned()
            )]
        );
        assert_eq!(full_name_candidates("a-2b-1.0").len(), 2);
        assert!(full_name_candidates("../x-1.0").is_empty());
    }

    #[test]
    fn a_raw_api_key_is_read_as_bearer() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("ldt_abc"));
        assert_eq!(
            api_key_as_bearer(&headers)[header::AUTHORIZATION],
            "Bearer ldt_abc"
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic YTpi"),
        );
        assert_eq!(
            api_key_as_bearer(&headers)[header::AUTHORIZATION],
            "Basic YTpi"
        );
    }
}
