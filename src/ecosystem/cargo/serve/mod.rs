//! The cargo registry data plane at `/d/{domain}/cargo/{repository}/`: a sparse index
//! (RFC 2789) and the Web API cargo publishes and yanks through, as CodeArtifact serves
//! cargo (cargo 1.74 or newer, which sends tokens to registries that require them).
//!
//! ```text
//! config.json                              {"dl", "api", "auth-required": true}
//! 1/{n}  2/{nn}  3/{n}/{nnn}  {ab}/{cd}/{name}   index files (lowercase), one JSON line per version
//! api/v1/crates/new                        PUT: cargo publish
//! api/v1/crates/{name}/{version}/yank      DELETE: cargo yank (status Unlisted)
//! api/v1/crates/{name}/{version}/unyank    PUT: cargo yank --undo (status Published)
//! api/v1/crates/{name}/{version}/download  the .crate (the `dl` of config.json)
//! ```
//!
//! Cargo sends its token as the whole `Authorization` value, without a scheme; `Bearer
//! <token>` works too. Every request needs a token with read permission (publish for
//! publish and yank), so `config.json` says `auth-required` and answers 401 without one,
//! which is how cargo learns to send the token.
//!
//! Crates are stored as package `{name}` lowercased (the index path's case) with no
//! namespace, one version per crate version, its `.crate` the one asset; the version's
//! metadata keeps the index line. Yanking maps to the `Unlisted` status (the version stays
//! downloadable, and the index lists it with `yanked: true`, so existing `Cargo.lock` files
//! still build), unyanking back to `Published`; any other status (`Archived`, `Disposed`)
//! takes the version out of the index and its `.crate` out of reach, as for every format.
//! Errors of the Web API are cargo's `{"errors":[{"detail":…}]}`, which cargo prints.
//!
//! Reads go through upstream repositories and the `cargo` external connections
//! (`public:crates-io`) with the pull-through engine ([`upstream::SparseIndex`]).

pub mod index;
pub mod upstream;

use std::io::Read as _;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use self::index::{crate_of_index_path, entry_from_publish, folded, valid_name, valid_version};
use self::upstream::{SparseIndex, UpstreamCrate};
use crate::format::Format;
use crate::server::AppState;
use crate::server::access::{self, Permission};
use crate::server::cache::{Document, DocumentKey};
use crate::server::data_plane::{DataPlane, DataRequest, Handling, data_request};
use crate::server::error::DataError;
use crate::server::ingest::{self, BodyError, Spool};
use crate::server::packages;
use crate::server::pull_through::{self, Offer};
use crate::server::store::{self, AssetRow, PackageKey, VersionRow};
use crate::server::upstream::{add_notes, with_notes};

/// The format.
const FORMAT: Format = Format::Cargo;

/// Statuses whose `.crate` can be downloaded (`Unlisted`: yanked).
const DOWNLOADABLE: [&str; 2] = ["Published", "Unlisted"];

/// The cargo data plane, as `lading serve` mounts it.
#[derive(Debug)]
pub struct CargoDataPlane;

impl DataPlane for CargoDataPlane {
    fn format(&self) -> Format {
        FORMAT
    }

    fn handle(&self, state: Arc<AppState>, request: Request) -> Handling {
        Box::pin(handle(State(state), request))
    }
}

/// What a path under the cargo endpoint addresses.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Config,
    Index {
        name: String,
    },
    Publish,
    Yank {
        name: String,
        version: String,
        undo: bool,
    },
    Download {
        name: String,
        version: String,
    },
    Unsupported {
        path: String,
        api: bool,
    },
}

impl Target {
    /// Whether it is part of the Web API, whose errors cargo reads as JSON.
    fn is_api(&self) -> bool {
        matches!(
            self,
            Self::Publish | Self::Yank { .. } | Self::Unsupported { api: true, .. }
        )
    }
}

fn parse_target(rest: &str) -> Target {
    let decoded = crate::server::decode_segment(rest);
    if decoded == "config.json" {
        return Target::Config;
    }
    if let Some(api) = decoded.strip_prefix("api/v1/crates/") {
        if api == "new" {
            return Target::Publish;
        }
        if let [name, version, action] = api.split('/').collect::<Vec<_>>().as_slice() {
            let (name, version) = ((*name).to_owned(), (*version).to_owned());
            match *action {
                "yank" => {
                    return Target::Yank {
                        name,
                        version,
                        undo: false,
                    };
                }
                "unyank" => {
                    return Target::Yank {
                        name,
                        version,
                        undo: true,
                    };
                }
                "download" => return Target::Download { name, version },
                _ => {}
            }
        }
    }
    if let Some(name) = crate_of_index_path(&decoded) {
        return Target::Index { name };
    }
    Target::Unsupported {
        api: decoded.starts_with("api/"),
        path: decoded,
    }
}

/// The request's headers with cargo's scheme-less `Authorization: <token>` read as
/// `Bearer <token>`, which [`access::authenticate_token`] takes.
fn with_cargo_token(headers: &HeaderMap) -> HeaderMap {
    let mut headers = headers.clone();
    let bare = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty() && !value.contains(char::is_whitespace))
        .and_then(|token| HeaderValue::from_str(&format!("Bearer {token}")).ok());
    if let Some(bearer) = bare {
        headers.insert(header::AUTHORIZATION, bearer);
    }
    headers
}

/// A Web API error as cargo prints it (`the remote server responded with an error`).
fn api_error(error: &DataError) -> Response {
    (
        error.status,
        axum::Json(json!({ "errors": [{ "detail": &error.message }] })),
    )
        .into_response()
}

/// Entry point for `/d/{domain}/cargo/{repository}/{*rest}`.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let (domain, repository, rest) = crate::server::split_data_path(&path);
    let target = parse_target(rest);
    let api = target.is_api();
    let headers = with_cargo_token(&parts.headers);
    let request = CargoRequest {
        request: DataRequest::new(&state, &headers, domain, repository),
    };
    match request.serve(&parts.method, target, body).await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(status = %error.status, message = %error.message, %path, "cargo request refused");
            if api {
                api_error(&error)
            } else {
                error.into_response()
            }
        }
    }
}

/// A version a repository of the read holds, and which one.
#[derive(Debug)]
struct Held {
    version: String,
    /// The index line, without `yanked`.
    entry: Map<String, Value>,
    yanked: bool,
    published: f64,
    repository: String,
}

/// Everything a repository can serve for one crate.
#[derive(Debug)]
struct View {
    held: Vec<Held>,
    offers: Vec<Offer<UpstreamCrate>>,
    notes: Vec<String>,
    upstream_blocked: bool,
    consulted_externals: bool,
}

impl View {
    /// The index file: the upstreams' lines in their order (a version held here written
    /// as held here, yanked when either side yanked it), then the versions only held
    /// here, oldest first.
    fn render(&self) -> String {
        let mut seen: Vec<&str> = Vec::new();
        let mut text = String::new();
        let held_line = |held: &Held, upstream_yanked: bool| {
            let mut entry = held.entry.clone();
            entry.insert("yanked".to_owned(), json!(held.yanked || upstream_yanked));
            Value::Object(entry).to_string()
        };
        for offer in &self.offers {
            for (line, value) in &offer.document.lines {
                let Some(version) = value.get("vers").and_then(Value::as_str) else {
                    continue;
                };
                if seen.contains(&version) {
                    continue;
                }
                seen.push(version);
                match self.held.iter().find(|held| held.version == version) {
                    Some(held) => {
                        let same = held.entry.get("cksum") == value.get("cksum");
                        let yanked = same && value.get("yanked") == Some(&Value::Bool(true));
                        text.push_str(&held_line(held, yanked));
                    }
                    None => text.push_str(line),
                }
                text.push('\n');
            }
        }
        let mut rest: Vec<&Held> = self
            .held
            .iter()
            .filter(|held| !seen.contains(&held.version.as_str()))
            .collect();
        rest.sort_by(|left, right| left.published.total_cmp(&right.published));
        for held in rest {
            text.push_str(&held_line(held, false));
            text.push('\n');
        }
        text
    }
}

data_request! {
    struct CargoRequest {}
}

impl CargoRequest<'_> {
    async fn serve(
        &self,
        method: &Method,
        target: Target,
        body: axum::body::Body,
    ) -> Result<Response, DataError> {
        let principal = access::authenticate_token(self.state, self.headers, &self.domain).await?;
        let principal = principal.as_ref();
        let need =
            |permission| access::require(principal, &self.domain, &self.repository, permission);
        match (method.as_str(), target) {
            ("GET" | "HEAD", Target::Config) => {
                need(Permission::Read)?;
                self.require_repository().await?;
                let endpoint = self.state.repository_endpoint(
                    self.headers,
                    &self.domain,
                    FORMAT,
                    &self.repository,
                );
                Ok(axum::Json(json!({
                    "dl": format!("{endpoint}api/v1/crates"),
                    "api": endpoint.trim_end_matches('/'),
                    "auth-required": true,
                }))
                .into_response())
            }
            ("GET" | "HEAD", Target::Index { name }) => {
                need(Permission::Read)?;
                self.require_repository().await?;
                self.index(&name).await
            }
            ("GET" | "HEAD", Target::Download { name, version }) => {
                need(Permission::Read)?;
                self.require_repository().await?;
                self.download(&name, &version).await
            }
            ("PUT", Target::Publish) => {
                need(Permission::Publish)?;
                self.require_repository().await?;
                self.publish(body).await
            }
            (
                "DELETE",
                Target::Yank {
                    name,
                    version,
                    undo: false,
                },
            )
            | (
                "PUT",
                Target::Yank {
                    name,
                    version,
                    undo: true,
                },
            ) => {
                need(Permission::Publish)?;
                self.require_repository().await?;
                self.yank(&name, &version, !matches!(method.as_str(), "PUT"))
                    .await
            }
            (_, Target::Unsupported { path, .. }) => Err(DataError::not_found(format!(
                "`{path}` is not supported by lading serve's cargo registry (it serves the sparse index, download, publish and yank)"
            ))),
            (method, _) => Err(DataError::method_not_allowed(method)),
        }
    }

    /// The package of crate `name` (any case) in this repository.
    fn key(&self, name: &str) -> PackageKey {
        self.package_key(FORMAT, String::new(), name.to_ascii_lowercase())
    }

    /// Every version the repository can serve for crate `name`: its own and its upstream
    /// repositories' (Published, or Unlisted = yanked), then what its external connections
    /// offer, unless origin controls block upstreams.
    async fn view(&self, name: &str) -> Result<View, DataError> {
        let lookup = self.key(name);
        let reader = access::reader(self.state, self.headers, &self.domain).await?;
        let (upstream_blocked, held, externals) = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let sources = packages::read_sources(connection, &lookup, reader.as_ref())?;
                let mut held: Vec<Held> = Vec::new();
                for (repository, row) in sources.held_versions(connection, &lookup)? {
                    if !DOWNLOADABLE.contains(&row.status.as_str())
                        || held.iter().any(|held| held.version == row.version)
                    {
                        continue;
                    }
                    let Some(entry) = stored_entry(&row) else {
                        continue;
                    };
                    held.push(Held {
                        yanked: row.status == "Unlisted",
                        version: row.version,
                        entry,
                        published: row.published,
                        repository,
                    });
                }
                Ok((sources.upstream_blocked, held, sources.externals))
            })
            .await?;
        let lower = name.to_ascii_lowercase();
        let upstream =
            pull_through::offers(self.state, &externals, &SparseIndex { name: &lower }).await;
        Ok(View {
            held,
            offers: upstream.offers,
            notes: upstream.notes,
            upstream_blocked,
            consulted_externals: upstream.consulted,
        })
    }

    /// An index file, served from the document cache while the index is unchanged (and no
    /// external connection is involved), with an `ETag` that `If-None-Match` revalidates.
    async fn index(&self, name: &str) -> Result<Response, DataError> {
        let cache_key = DocumentKey {
            package: self.key(name),
            variant: "sparse-index",
            base_url: String::new(),
        };
        let generation = self.document_generation().await?;
        if let Some(response) = self.cached_document(&cache_key, generation) {
            return Ok(response);
        }
        let view = self.view(name).await?;
        let text = view.render();
        if text.is_empty() {
            return Err(pull_through::not_found(
                format!(
                    "crate `{name}` not found in `{}/{}`",
                    self.domain, self.repository
                ),
                view.upstream_blocked,
                &view.notes,
            ));
        }
        Ok(self.respond_document(
            cache_key,
            generation,
            Document::new(text.into_bytes(), "text/plain"),
            view.consulted_externals,
            &view.notes,
        ))
    }

    /// The `.crate` of a version this repository holds (fetching it through an upstream
    /// repository or external connection first when it does not).
    async fn download(&self, name: &str, version: &str) -> Result<Response, DataError> {
        let key = self.key(name);
        let mut notes = Vec::new();
        let mut found = self.local_crate(&key, version).await?;
        if found.is_none() && self.pull_through(name, version, &mut notes).await? {
            found = self.local_crate(&key, version).await?;
        }
        let Some(asset) = found else {
            return Err(with_notes(
                DataError::not_found(format!(
                    "crate `{name}` version `{version}` not found in `{}/{}`",
                    self.domain, self.repository
                )),
                &notes,
            ));
        };
        // The sha256 is the index's `cksum`.
        let mut response = self
            .content_addressed(&asset.digests.sha256, "application/x-tar")
            .await?;
        add_notes(&mut response, &notes);
        Ok(response)
    }

    async fn local_crate(
        &self,
        key: &PackageKey,
        version: &str,
    ) -> Result<Option<AssetRow>, DataError> {
        let (lookup, wanted) = (key.clone(), version.to_owned());
        self.state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let Some(row) = store::version(connection, &lookup, &wanted)?
                    .filter(|row| DOWNLOADABLE.contains(&row.status.as_str()))
                else {
                    return Ok(None);
                };
                Ok(store::assets(connection, row.id)?
                    .into_iter()
                    .find(|asset| {
                        std::path::Path::new(&asset.name)
                            .extension()
                            .is_some_and(|extension| extension.eq_ignore_ascii_case("crate"))
                    }))
            })
            .await
    }

    /// Bring `version` of crate `name` into this repository from where the view says it
    /// lives: retained from an upstream repository, or fetched from an external connection,
    /// verified against the upstream index's `cksum`, and stored. Whether it now is here.
    async fn pull_through(
        &self,
        name: &str,
        version: &str,
        notes: &mut Vec<String>,
    ) -> Result<bool, DataError> {
        let view = self.view(name).await?;
        notes.extend(view.notes.iter().cloned());
        let key = self.key(name);
        if let Some(held) = view.held.iter().find(|held| held.version == version) {
            if held.repository != self.repository {
                pull_through::retain(self.state, &held.repository, &key, version).await?;
            }
            return Ok(true);
        }
        for offer in &view.offers {
            let Some(line) = offer.document.line(version) else {
                continue;
            };
            let connection = pull_through::connection(self.state, &offer.connection)?;
            let crate_name = line
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(name)
                .to_owned();
            let file = format!("{crate_name}-{version}.crate");
            let url = offer.document.download_url(line).ok_or_else(|| {
                pull_through::refused(&offer.connection, &format!("`{file}`"), "no download URL")
            })?;
            let claimed = line.get("cksum").and_then(Value::as_str);
            let (bytes, digests) = pull_through::fetch_verified(
                self.state,
                connection,
                &format!("`{file}`"),
                &url,
                claimed.map(|cksum| ("sha256", cksum)),
            )
            .await?;
            let mut entry = line.as_object().cloned().unwrap_or_default();
            entry.remove("yanked");
            let pulled = pull_through::Pulled {
                here: key,
                owner: offer.owner.clone(),
                connection: offer.connection.clone(),
                version: version.to_owned(),
                file,
                metadata: Some(json!({ "index": entry }).to_string()),
            };
            pull_through::store(self.state, pulled, bytes, digests, |_, _, _| Ok(())).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// `cargo publish`: the Web API body (little-endian `u32` length, the JSON metadata,
    /// `u32` length, the `.crate`), checked (name, version, the `Cargo.toml` inside the
    /// `.crate` naming the same) before anything is stored.
    async fn publish(&self, body: axum::body::Body) -> Result<Response, DataError> {
        let limits = self.state.limits;
        let tmp = self.state.store.tmp_dir().to_path_buf();
        let spooled = ingest::spool(&tmp, body, limits.max_upload_bytes, limits).await?;
        let (metadata, crate_file) = ingest::blocking(move || {
            Ok(read_publish_body(&spooled, &tmp, limits.max_metadata_bytes))
        })
        .await??;
        let cksum = crate_file.digests().sha256.clone();
        let name = metadata
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let version = metadata
            .get("vers")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let entry = entry_from_publish(&metadata, &cksum).map_err(DataError::bad_request)?;
        let mut stored = Map::new();
        stored.insert("index".to_owned(), Value::Object(entry));
        for field in [
            "description",
            "documentation",
            "homepage",
            "repository",
            "license",
            "license_file",
            "readme",
            "readme_file",
            "keywords",
            "categories",
            "authors",
        ] {
            if let Some(value) = metadata.get(field).filter(|value| !value.is_null()) {
                stored.insert(field.to_owned(), value.clone());
            }
        }
        let size = crate_file.size();
        let placed = self.state.store.put_spool(crate_file).await?;
        let asset = AssetRow {
            name: format!("{name}-{version}.crate"),
            size,
            digests: placed.digests.clone(),
        };
        let key = self.key(&name);
        let now = self.state.clock.now();
        let (crate_name, crate_version) = (name.clone(), version.clone());
        let outcome = self
            .state
            .store
            .with(move |connection| -> Result<Result<(), (StatusCode, String)>, DataError> {
                let transaction = store::write_transaction(connection)?;
                let existing = store::versions(&transaction, &key)?;
                if let Some(row) = existing.iter().find(|row| {
                    index::without_build(&row.version) == index::without_build(&crate_version)
                }) {
                    return Ok(Err((StatusCode::CONFLICT, format!("crate version `{crate_name}@{}` is already uploaded; publish a new version", row.version))));
                }
                if let Some(previous) = existing
                    .iter()
                    .filter_map(stored_entry)
                    .filter_map(|entry| entry.get("name").and_then(Value::as_str).map(str::to_owned))
                    .find(|previous| *previous != crate_name)
                {
                    return Ok(Err((StatusCode::CONFLICT, format!("crate `{crate_name}` was previously published as `{previous}`; publish it under that name"))));
                }
                let others = store::packages(&transaction, &key.domain, &key.repository, Some(FORMAT.name()), None, None)?;
                if let Some(other) = others.iter().find(|other| other.package != key.package && folded(&other.package) == folded(&key.package)) {
                    return Ok(Err((StatusCode::CONFLICT, format!("crate `{crate_name}` conflicts with the crate `{}` (names that differ only in `-` and `_` are the same crate)", other.package))));
                }
                if let Err(refused) = packages::admit_publish(&transaction, &key) {
                    return Ok(Err((StatusCode::FORBIDDEN, refused.refusal(&format!("`{crate_name}`"))?)));
                }
                let row = VersionRow {
                    id: 0,
                    version: crate_version.clone(),
                    revision: store::new_revision(),
                    status: "Published".to_owned(),
                    published: now,
                    metadata: Some(Value::Object(stored).to_string()),
                };
                let id = store::insert_version(&transaction, &key, &row)?;
                store::insert_asset(&transaction, id, &asset)?;
                transaction.commit()?;
                Ok(Ok(()))
            })
            .await?;
        if outcome.is_err() {
            self.state.store.discard(placed).await?;
        } else {
            drop(placed);
        }
        outcome.map_err(|(status, message)| DataError::new(status, message))?;
        tracing::info!(%name, %version, "cargo publish");
        Ok(axum::Json(json!({
            "warnings": { "invalid_categories": [], "invalid_badges": [], "other": [] }
        }))
        .into_response())
    }

    /// `cargo yank` (`Published` → `Unlisted`) and `cargo yank --undo` (back), idempotent as
    /// on crates.io; a version in any other status is left alone.
    async fn yank(&self, name: &str, version: &str, yank: bool) -> Result<Response, DataError> {
        let key = self.key(name);
        let (wanted, display) = (version.to_owned(), format!("{name}@{version}"));
        let (from, to) = if yank {
            ("Published", "Unlisted")
        } else {
            ("Unlisted", "Published")
        };
        let place = format!("{}/{}", self.domain, self.repository);
        self.state
            .store
            .with(move |connection| -> Result<_, DataError> {
                let transaction = store::write_transaction(connection)?;
                let row = store::version(&transaction, &key, &wanted)?.ok_or_else(|| {
                    DataError::not_found(format!("crate version `{display}` not found in `{place}`"))
                })?;
                if row.status == from {
                    store::update_version_status(&transaction, row.id, to, &store::new_revision())?;
                } else if row.status != to {
                    return Err(DataError::new(StatusCode::CONFLICT, format!("crate version `{display}` is {}; change its status with `aws codeartifact update-package-versions-status`", row.status)));
                }
                transaction.commit()?;
                Ok(())
            })
            .await?;
        tracing::info!(crate_version = %format!("{name}@{version}"), status = to, "cargo yank");
        Ok(axum::Json(json!({ "ok": true })).into_response())
    }
}

/// A stored version's index line (without `yanked`), from its metadata.
fn stored_entry(row: &VersionRow) -> Option<Map<String, Value>> {
    let metadata: Value = serde_json::from_str(row.metadata.as_deref()?).ok()?;
    let mut entry = metadata.get("index")?.as_object()?.clone();
    entry.remove("yanked");
    Some(entry)
}

/// Largest `Cargo.toml` read from a published `.crate`.
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
/// Bytes of a published `.crate` decompressed while looking for its `Cargo.toml`.
const MAX_SCAN_BYTES: u64 = 1024 * 1024 * 1024;

/// Split a Web API publish body into its metadata (checked: a valid crate name and semver
/// version) and the `.crate`, in its own temp file in `tmp`, whose `Cargo.toml` must name
/// the same crate and version.
///
/// # Errors
/// 400 naming what is wrong, 413 over `max_metadata` (the JSON part).
fn read_publish_body(
    body: &Spool,
    tmp: &std::path::Path,
    max_metadata: u64,
) -> Result<(Value, Spool), DataError> {
    let mut reader = std::io::BufReader::new(body.reader().map_err(BodyError::from)?);
    let mut length = [0_u8; 4];
    let mut read_length = |reader: &mut std::io::BufReader<std::fs::File>| {
        reader
            .read_exact(&mut length)
            .map(|()| u64::from(u32::from_le_bytes(length)))
            .map_err(|_| DataError::bad_request("the publish body is truncated"))
    };
    let json_length = read_length(&mut reader)?;
    if json_length > max_metadata {
        return Err(BodyError::TooLarge {
            limit: max_metadata,
        }
        .into());
    }
    let mut json_bytes = Vec::new();
    (&mut reader)
        .take(json_length)
        .read_to_end(&mut json_bytes)
        .map_err(BodyError::from)?;
    if json_bytes.len() as u64 != json_length {
        return Err(DataError::bad_request("the publish body is truncated"));
    }
    let metadata: Value = serde_json::from_slice(&json_bytes).map_err(|error| {
        DataError::bad_request(format!("the publish metadata is not valid JSON: {error}"))
    })?;
    let crate_length = read_length(&mut reader)?;
    let crate_file =
        ingest::copy_to_spool(&mut (&mut reader).take(crate_length), tmp, crate_length)?;
    if crate_file.size() != crate_length {
        return Err(DataError::bad_request("the publish body is truncated"));
    }
    let name = metadata
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let version = metadata
        .get("vers")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !valid_name(name) {
        return Err(DataError::bad_request(format!(
            "`{name}` is not a valid crate name (ASCII letters, digits, `-` and `_`, starting with a letter, at most 64 characters)"
        )));
    }
    if !valid_version(version) {
        return Err(DataError::bad_request(format!(
            "`{version}` is not a valid semver version"
        )));
    }
    let manifest = crate_file
        .reader()
        .map_err(|error| format!("unreadable: {error}"))
        .and_then(|file| crate_manifest(file, &format!("{name}-{version}")))
        .map_err(|message| {
            DataError::bad_request(format!("the `.crate` of `{name}@{version}`: {message}"))
        })?;
    for (field, expected) in [("name", name), ("version", version)] {
        let found = manifest
            .get("package")
            .and_then(|package| package.get(field))
            .and_then(toml_edit::Item::as_str);
        if found != Some(expected) {
            return Err(DataError::bad_request(format!(
                "the `Cargo.toml` in the `.crate` of `{name}@{version}` has package {field} {}, not `{expected}`",
                found.map_or_else(|| "none".to_owned(), |found| format!("`{found}`"))
            )));
        }
    }
    Ok((metadata, crate_file))
}

/// The `{top}/Cargo.toml` of a `.crate` (a gzipped tar whose entries are under
/// `{name}-{version}/`), read with bounds on its size and on the bytes decompressed.
fn crate_manifest(file: impl std::io::Read, top: &str) -> Result<toml_edit::DocumentMut, String> {
    let decoder = flate2::read::GzDecoder::new(file).take(MAX_SCAN_BYTES);
    let mut archive = tar::Archive::new(decoder);
    let entries = archive
        .entries()
        .map_err(|error| format!("not a gzipped tar archive: {error}"))?;
    let wanted = format!("{top}/Cargo.toml");
    for entry in entries {
        let mut entry = entry.map_err(|error| format!("unreadable tar archive: {error}"))?;
        let path = entry
            .path()
            .map_err(|error| format!("unreadable entry name: {error}"))?
            .to_string_lossy()
            .into_owned();
        if path != wanted {
            continue;
        }
        let mut text = String::new();
        (&mut entry)
            .take(MAX_MANIFEST_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|error| format!("unreadable `{wanted}`: {error}"))?;
        if text.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(format!("`{wanted}` is over 1 MiB"));
        }
        return text
            .parse::<toml_edit::DocumentMut>()
            .map_err(|error| format!("`{wanted}` is not valid TOML: {error}"));
    }
    Err(format!("it has no `{wanted}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_parsed_from_raw_paths() {
        assert_eq!(parse_target("config.json"), Target::Config);
        assert_eq!(
            parse_target("3/q/qrs"),
            Target::Index { name: "qrs".into() }
        );
        assert_eq!(parse_target("api/v1/crates/new"), Target::Publish);
        assert_eq!(
            parse_target("api/v1/crates/Foo/1.0.0%2Bb/unyank"),
            Target::Yank {
                name: "Foo".into(),
                version: "1.0.0+b".into(),
                undo: true
            }
        );
        assert_eq!(
            parse_target("api/v1/crates/foo/1.0.0/download"),
            Target::Download {
                name: "foo".into(),
                version: "1.0.0".into()
            }
        );
        assert!(parse_target("api/v1/crates?q=x").is_api());
        assert!(!parse_target("xx/yy/zz").is_api());
    }

    #[test]
    fn scheme_less_tokens_read_as_bearer_and_others_are_kept() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            with_cargo_token(&headers)[header::AUTHORIZATION]
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(with("ldt_abc"), "Bearer ldt_abc");
        assert_eq!(with("Bearer ldt_abc"), "Bearer ldt_abc");
        assert_eq!(with("Basic YTpi"), "Basic YTpi");
        assert!(with_cargo_token(&HeaderMap::new()).is_empty());
    }

    fn publish_body(metadata: &Value, crate_bytes: &[u8]) -> Vec<u8> {
        let json = metadata.to_string();
        let mut body = Vec::new();
        body.extend_from_slice(&u32::try_from(json.len()).unwrap().to_le_bytes());
        body.extend_from_slice(json.as_bytes());
        body.extend_from_slice(&u32::try_from(crate_bytes.len()).unwrap().to_le_bytes());
        body.extend_from_slice(crate_bytes);
        body
    }

    fn dot_crate(top: &str, manifest: &str) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_size(manifest.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(
                &mut header,
                format!("{top}/Cargo.toml"),
                manifest.as_bytes(),
            )
            .unwrap();
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn spooled(dir: &std::path::Path, bytes: &[u8]) -> Spool {
        ingest::copy_to_spool(&mut &bytes[..], dir, u64::MAX).unwrap()
    }

    #[test]
    fn publish_bodies_are_split_and_the_crate_must_name_itself() {
        let dir = tempfile::tempdir().unwrap();
        let metadata = json!({"name": "q", "vers": "0.1.0", "deps": [], "features": {}});
        let good = dot_crate("q-0.1.0", "[package]\nname = \"q\"\nversion = \"0.1.0\"\n");
        let (read, crate_file) = read_publish_body(
            &spooled(dir.path(), &publish_body(&metadata, &good)),
            dir.path(),
            4096,
        )
        .unwrap();
        assert_eq!(read, metadata);
        assert_eq!(crate_file.read_all().unwrap(), good);
        for (crate_bytes, needle) in [
            (
                dot_crate(
                    "q-0.1.0",
                    "[package]\nname = \"other\"\nversion = \"0.1.0\"\n",
                ),
                "package name `other`",
            ),
            (
                dot_crate("q-0.1.0", "[package]\nname = \"q\"\nversion = \"0.2.0\"\n"),
                "package version `0.2.0`",
            ),
            (
                dot_crate("other-0.1.0", "[package]\n"),
                "has no `q-0.1.0/Cargo.toml`",
            ),
            (b"not gzip".to_vec(), "the `.crate` of `q@0.1.0`"),
        ] {
            let error = read_publish_body(
                &spooled(dir.path(), &publish_body(&metadata, &crate_bytes)),
                dir.path(),
                4096,
            )
            .unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
            assert!(error.message.contains(needle), "{}", error.message);
        }
        let mut truncated = publish_body(&metadata, &good);
        truncated.truncate(truncated.len() - 1);
        let error =
            read_publish_body(&spooled(dir.path(), &truncated), dir.path(), 4096).unwrap_err();
        assert!(error.message.contains("truncated"), "{}", error.message);
        let error = read_publish_body(
            &spooled(dir.path(), &publish_body(&metadata, &good)),
            dir.path(),
            8,
        )
        .unwrap_err();
        assert_eq!(error.status, StatusCode::PAYLOAD_TOO_LARGE);
        let bad_name = json!({"name": "1q", "vers": "0.1.0", "deps": []});
        let error = read_publish_body(
            &spooled(dir.path(), &publish_body(&bad_name, &good)),
            dir.path(),
            4096,
        )
        .unwrap_err();
        assert!(
            error.message.contains("not a valid crate name"),
            "{}",
            error.message
        );
    }
}
