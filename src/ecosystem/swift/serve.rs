//! The Swift package registry data plane at `/d/{domain}/swift/{repository}/`, as the
//! "Swift Package Registry Service" specification (SE-0292; swift-package-manager
//! `Documentation/PackageRegistry/Registry.md`, sections cited below) defines it:
//!
//! | request | section |
//! | --- | --- |
//! | `GET /{scope}/{name}` (`.json`) | 4.1 list package releases |
//! | `GET /{scope}/{name}/{version}` (`.json`) | 4.2 release metadata, `checksum` of the archive |
//! | `GET /{scope}/{name}/{version}/Package.swift{?swift-version}` | 4.3 manifests |
//! | `GET /{scope}/{name}/{version}.zip` | 4.4 source archive, `Digest: sha-256=` |
//! | `GET /identifiers{?url}` | 4.5 identifiers for a repository URL |
//! | `PUT /{scope}/{name}/{version}` (multipart) | 4.6 publish, synchronous (201) |
//! | `POST /login` | SE-0378 login API (200 for a valid token) |
//!
//! Every response carries `Content-Version: 1`; errors are RFC 7807 problem details
//! (`application/problem+json`, `{"detail": ...}`); an `Accept` naming an unknown API
//! version is refused (3.5: 400 invalid, 415 unsupported). Scopes and names are matched
//! case-insensitively (3.6) and stored lowercased, spelled as first published in `id`.
//! Manifests are read out of the archive once, at publish, and kept with the version.
//! Not supported: `Content-Transfer-Encoding: base64` parts (SwiftPM sends binary) and
//! asynchronous publication (4.6.3.2).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::format::Format;
use crate::server::AppState;
use crate::server::access::{self, Permission};
use crate::server::data_plane::{DataPlane, Handling};
use crate::server::error::DataError;
use crate::server::multipart::{self, StreamedContent};
use crate::server::store::{self, AssetRow, PackageKey, VersionRow};

/// The API version this plane speaks.
const API_VERSION: &str = "1";
/// JSON responses.
const JSON: &str = "application/json";
/// Manifests (4.3).
const SWIFT: &str = "text/x-swift";
/// The largest manifest kept (a manifest is source code; real ones are a few KiB).
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// The Swift data plane, as `lading serve` mounts it.
#[derive(Debug)]
pub struct SwiftDataPlane;

impl DataPlane for SwiftDataPlane {
    fn format(&self) -> Format {
        Format::Swift
    }

    fn handle(&self, state: Arc<AppState>, request: Request) -> Handling {
        Box::pin(handle(State(state), request))
    }
}

/// A problem details (RFC 7807) response, as section 3.3 requires for every error.
fn problem(status: StatusCode, detail: &str) -> Response {
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, "application/problem+json"),
            (header::CONTENT_LANGUAGE, "en"),
        ],
        json!({ "detail": detail }).to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"lading\", Basic realm=\"lading\""),
        );
    }
    response
}

/// Entry point for `/d/{domain}/swift/{repository}/{*rest}`.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let mut response = serve(&state, request)
        .await
        .unwrap_or_else(|error| problem(error.status, &error.message));
    response
        .headers_mut()
        .insert("content-version", HeaderValue::from_static(API_VERSION));
    response
}

/// What a request asks for, from the path below the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// 4.1.
    Releases { scope: String, name: String },
    /// 4.2 (GET) and 4.6 (PUT).
    Release {
        scope: String,
        name: String,
        version: String,
    },
    /// 4.3.
    Manifest {
        scope: String,
        name: String,
        version: String,
    },
    /// 4.4.
    Archive {
        scope: String,
        name: String,
        version: String,
    },
    /// 4.5.
    Identifiers,
    /// SE-0378.
    Login,
}

fn parse_target(rest: &str) -> Option<Target> {
    let segments: Vec<String> = rest.split('/').map(crate::server::decode_segment).collect();
    let owned = |text: &str| text.to_owned();
    match segments.as_slice() {
        [single] if single == "identifiers" => Some(Target::Identifiers),
        [single] if single == "login" => Some(Target::Login),
        [scope, name] => Some(Target::Releases {
            scope: owned(scope),
            name: owned(name.strip_suffix(".json").unwrap_or(name)),
        }),
        [scope, name, version] => {
            if let Some(version) = version.strip_suffix(".zip") {
                Some(Target::Archive {
                    scope: owned(scope),
                    name: owned(name),
                    version: owned(version),
                })
            } else {
                Some(Target::Release {
                    scope: owned(scope),
                    name: owned(name),
                    version: owned(version.strip_suffix(".json").unwrap_or(version)),
                })
            }
        }
        [scope, name, version, file] if file == "Package.swift" => Some(Target::Manifest {
            scope: owned(scope),
            name: owned(name),
            version: owned(version),
        }),
        _ => None,
    }
}

/// A package scope (3.6.1): `\A[a-zA-Z0-9](?:[a-zA-Z0-9]|-(?=[a-zA-Z0-9])){0,38}\z`.
#[must_use]
pub fn valid_scope(scope: &str) -> bool {
    valid_identifier(scope, 39, &['-'])
}

/// A package name (3.6.2): `\A[a-zA-Z0-9](?:[a-zA-Z0-9]|[-_](?=[a-zA-Z0-9])){0,99}\z`.
#[must_use]
pub fn valid_name(name: &str) -> bool {
    valid_identifier(name, 100, &['-', '_'])
}

fn valid_identifier(text: &str, max: usize, separators: &[char]) -> bool {
    let characters: Vec<char> = text.chars().collect();
    !characters.is_empty()
        && characters.len() <= max
        && characters[0].is_ascii_alphanumeric()
        && characters.iter().enumerate().all(|(index, character)| {
            character.is_ascii_alphanumeric()
                || (separators.contains(character)
                    && characters
                        .get(index + 1)
                        .is_some_and(char::is_ascii_alphanumeric))
        })
}

/// A SemVer 2.0 version: `(major, minor, patch, prerelease identifiers)`, for precedence.
type Precedence = (u64, u64, u64, Option<Vec<String>>);

/// Parse a version number (2, "Version Number": Semantic Versioning), build metadata
/// ignored for precedence.
#[must_use]
fn semver(version: &str) -> Option<Precedence> {
    let core_and_pre = version.split_once('+').map_or(version, |(core, _)| core);
    let (core, pre) = match core_and_pre.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (core_and_pre, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let [major, minor, patch] = numbers.as_slice() else {
        return None;
    };
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty()
            && text.chars().all(|c| c.is_ascii_digit())
            && (text == "0" || !text.starts_with('0')))
        .then(|| text.parse().ok())
        .flatten()
    };
    let pre = match pre {
        Some(pre) => {
            let identifiers: Vec<String> = pre.split('.').map(ToOwned::to_owned).collect();
            if identifiers.iter().any(|identifier| {
                identifier.is_empty()
                    || !identifier
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-')
            }) {
                return None;
            }
            Some(identifiers)
        }
        None => None,
    };
    Some((number(major)?, number(minor)?, number(patch)?, pre))
}

/// SemVer precedence (11): a release outranks its prereleases; numeric identifiers compare
/// numerically and rank below alphanumeric ones.
fn precedence(left: &Precedence, right: &Precedence) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let core = (left.0, left.1, left.2).cmp(&(right.0, right.1, right.2));
    if core != Ordering::Equal {
        return core;
    }
    match (&left.3, &right.3) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(left), Some(right)) => {
            for (a, b) in left.iter().zip(right) {
                let order = match (a.parse::<u64>(), b.parse::<u64>()) {
                    (Ok(a), Ok(b)) => a.cmp(&b),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => a.cmp(b),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
            left.len().cmp(&right.len())
        }
    }
}

/// Check the `Accept` header (3.5): a `application/vnd.swift.registry` type must name API
/// version 1 when it names one; other types (or none) get version 1.
fn check_accept(headers: &HeaderMap) -> Result<(), DataError> {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
    else {
        return Ok(());
    };
    for media in accept.split(',') {
        let media = media.split(';').next().unwrap_or_default().trim();
        let Some(rest) = media
            .to_ascii_lowercase()
            .strip_prefix("application/vnd.swift.registry")
            .map(ToOwned::to_owned)
        else {
            continue;
        };
        let (version, kind) = match rest.split_once('+') {
            Some((version, kind)) => (version.to_owned(), Some(kind.to_owned())),
            None => (rest.clone(), None),
        };
        if kind
            .as_deref()
            .is_some_and(|kind| !matches!(kind, "json" | "zip" | "swift"))
        {
            return Err(DataError::bad_request("invalid API version"));
        }
        match version.strip_prefix(".v") {
            None if version.is_empty() => {}
            Some(API_VERSION) => {}
            Some(number) if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) => {
                return Err(DataError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported API version",
                ));
            }
            _ => return Err(DataError::bad_request("invalid API version")),
        }
    }
    Ok(())
}

/// The request's view of one repository.
struct Context<'a> {
    state: &'a AppState,
    domain: String,
    repository: String,
    /// The endpoint URL as the client reached it, ending in `/`.
    base: String,
}

impl Context<'_> {
    fn key(&self, scope: &str, name: &str) -> PackageKey {
        PackageKey {
            domain: self.domain.clone(),
            repository: self.repository.clone(),
            format: Format::Swift.name().to_owned(),
            namespace: scope.to_ascii_lowercase(),
            package: name.to_ascii_lowercase(),
        }
    }

    fn release_url(&self, scope: &str, name: &str, version: &str) -> String {
        format!("{}{scope}/{name}/{version}", self.base)
    }

    /// The versions of a package, highest precedence first.
    async fn versions(&self, key: &PackageKey) -> Result<Vec<VersionRow>, DataError> {
        let lookup = key.clone();
        let mut rows = self
            .state
            .store
            .with(move |connection| -> Result<_, DataError> {
                Ok(store::versions(connection, &lookup)?)
            })
            .await?;
        rows.retain(|row| row.status != "Unfinished" && semver(&row.version).is_some());
        rows.sort_by(|left, right| {
            let (Some(left), Some(right)) = (semver(&left.version), semver(&right.version)) else {
                return std::cmp::Ordering::Equal;
            };
            precedence(&right, &left)
        });
        Ok(rows)
    }
}

/// Whether a version's asset is its source archive (`{name}-{version}.zip`).
fn is_archive(asset: &AssetRow) -> bool {
    std::path::Path::new(&asset.name)
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("zip"))
}

fn metadata_of(row: &VersionRow) -> Value {
    row.metadata
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null)
}

fn not_found(what: &str) -> DataError {
    DataError::not_found(format!("{what} not found"))
}

/// Add `Link` values (RFC 8288) to a response.
fn link(response: &mut Response, links: &[String]) {
    if !links.is_empty()
        && let Ok(value) = HeaderValue::from_str(&links.join(", "))
    {
        response.headers_mut().insert(header::LINK, value);
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, JSON)], body).into_response()
}

async fn serve(state: &AppState, request: Request) -> Result<Response, DataError> {
    let (parts, body) = request.into_parts();
    let (domain, repository, rest) = crate::server::split_data_path(parts.uri.path());
    let rest = rest.to_owned();
    check_accept(&parts.headers)?;
    let Some(target) = parse_target(&rest) else {
        return Err(DataError::not_found(
            "no such registry resource (see the Swift Package Registry Service specification, section 4)",
        ));
    };
    let principal = access::authenticate_token(state, &parts.headers, &domain).await?;
    let context = Context {
        state,
        base: format!(
            "{}/d/{}/swift/{}/",
            state.base_url(&parts.headers).trim_end_matches('/'),
            domain,
            repository
        ),
        domain,
        repository,
    };
    let method = parts.method.clone();
    let read = method == Method::GET || method == Method::HEAD;
    let permission = match (&target, &method) {
        (Target::Login, &Method::POST) => Permission::Read,
        (Target::Release { .. }, &Method::PUT) => Permission::Publish,
        _ if !read => return Err(DataError::method_not_allowed(method)),
        _ => Permission::Read,
    };
    access::require(
        principal.as_ref(),
        &context.domain,
        &context.repository,
        permission,
    )?;
    state
        .require_repository(&context.domain, &context.repository)
        .await?;
    match (target, &method) {
        (Target::Login, &Method::POST) => Ok(json_response(StatusCode::OK, "{}".to_owned())),
        (
            Target::Release {
                scope,
                name,
                version,
            },
            &Method::PUT,
        ) => publish(&context, &parts.headers, body, &scope, &name, &version).await,
        (Target::Releases { scope, name }, _) => releases(&context, &scope, &name).await,
        (
            Target::Release {
                scope,
                name,
                version,
            },
            _,
        ) => release(&context, &scope, &name, &version).await,
        (
            Target::Manifest {
                scope,
                name,
                version,
            },
            _,
        ) => manifest(&context, parts.uri.query(), &scope, &name, &version).await,
        (
            Target::Archive {
                scope,
                name,
                version,
            },
            _,
        ) => archive(&context, &parts.headers, &scope, &name, &version).await,
        (Target::Identifiers, _) => identifiers(&context, parts.uri.query()).await,
        (Target::Login, _) => Err(DataError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "the login API takes POST",
        )),
    }
}

/// The spelling a package was first published with (`id` is `scope.Name`).
fn spelled(row: &VersionRow, scope: &str, name: &str) -> (String, String) {
    let metadata = metadata_of(row);
    let field = |key: &str, fallback: &str| {
        metadata
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or(fallback)
            .to_owned()
    };
    (field("scope", scope), field("name", name))
}

async fn releases(context: &Context<'_>, scope: &str, name: &str) -> Result<Response, DataError> {
    let key = context.key(scope, name);
    let rows = context.versions(&key).await?;
    if rows.is_empty() {
        return Err(not_found(&format!("package {scope}.{name}")));
    }
    let (scope, name) = spelled(&rows[0], scope, name);
    // Written by hand: the releases are listed in order of precedence (4.1), which a JSON
    // map would sort away.
    let mut body = String::from("{\"releases\":{");
    for (index, row) in rows.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        let mut entry = json!({ "url": context.release_url(&scope, &name, &row.version) });
        if row.status != "Published" {
            entry["problem"] = json!({
                "status": 410,
                "title": "Gone",
                "detail": format!("this release is {}", row.status.to_ascii_lowercase()),
            });
        }
        body.push_str(&Value::String(row.version.clone()).to_string());
        body.push(':');
        body.push_str(&entry.to_string());
    }
    body.push_str("}}");
    let mut response = json_response(StatusCode::OK, body);
    if let Some(latest) = rows.iter().find(|row| row.status == "Published") {
        link(
            &mut response,
            &[format!(
                "<{}>; rel=\"latest-version\"",
                context.release_url(&scope, &name, &latest.version)
            )],
        );
    }
    Ok(response)
}

/// A published release, as the release, manifest and archive endpoints read it.
struct Release {
    row: VersionRow,
    /// Every version of the package, highest precedence first (its neighbours).
    rows: Vec<VersionRow>,
    /// The scope and name as published.
    scope: String,
    name: String,
    /// Its stored metadata.
    stored: Value,
}

impl Release {
    /// Its source archive.
    async fn archive(&self, context: &Context<'_>) -> Result<AssetRow, DataError> {
        let id = self.row.id;
        let assets = context
            .state
            .store
            .with(move |connection| -> Result<_, DataError> { Ok(store::assets(connection, id)?) })
            .await?;
        assets
            .into_iter()
            .find(is_archive)
            .ok_or_else(|| not_found("source archive"))
    }
}

/// The published release `version` and its neighbours by precedence.
async fn find_release(
    context: &Context<'_>,
    scope: &str,
    name: &str,
    version: &str,
) -> Result<Release, DataError> {
    let key = context.key(scope, name);
    let rows = context.versions(&key).await?;
    let row = rows
        .iter()
        .find(|row| row.version == version)
        .cloned()
        .ok_or_else(|| not_found("release"))?;
    if row.status != "Published" {
        return Err(DataError::new(
            StatusCode::GONE,
            format!("this release is {}", row.status.to_ascii_lowercase()),
        ));
    }
    let (scope, name) = spelled(&row, scope, name);
    let stored = metadata_of(&row);
    Ok(Release {
        row,
        rows,
        scope,
        name,
        stored,
    })
}

async fn release(
    context: &Context<'_>,
    scope: &str,
    name: &str,
    version: &str,
) -> Result<Response, DataError> {
    let release = find_release(context, scope, name, version).await?;
    let archive = release.archive(context).await?;
    let Release {
        row,
        rows,
        scope,
        name,
        stored,
    } = release;
    let mut resource = json!({
        "name": "source-archive",
        "type": "application/zip",
        "checksum": archive.digests.sha256,
    });
    if let Some(signature) = stored.get("signature").and_then(Value::as_str) {
        resource["signing"] = json!({
            "signatureBase64Encoded": signature,
            "signatureFormat": stored.get("signatureFormat").cloned().unwrap_or(Value::Null),
        });
    }
    let body = json!({
        "id": format!("{scope}.{name}"),
        "version": row.version,
        "resources": [resource],
        "metadata": stored.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "publishedAt": access::iso8601(row.published),
    });
    let mut response = json_response(StatusCode::OK, body.to_string());
    let published: Vec<&VersionRow> = rows
        .iter()
        .filter(|row| row.status == "Published")
        .collect();
    let mut links = Vec::new();
    if let Some(latest) = published.first() {
        links.push(format!(
            "<{}>; rel=\"latest-version\"",
            context.release_url(&scope, &name, &latest.version)
        ));
    }
    if let Some(position) = published
        .iter()
        .position(|candidate| candidate.id == row.id)
    {
        if position > 0 {
            links.push(format!(
                "<{}>; rel=\"successor-version\"",
                context.release_url(&scope, &name, &published[position - 1].version)
            ));
        }
        if let Some(previous) = published.get(position + 1) {
            links.push(format!(
                "<{}>; rel=\"predecessor-version\"",
                context.release_url(&scope, &name, &previous.version)
            ));
        }
    }
    link(&mut response, &links);
    Ok(response)
}

/// `// swift-tools-version:5.7` (or `: 5.7`, `5.7.1`) on a manifest's first line.
fn tools_version(manifest: &str) -> Option<String> {
    let first = manifest.lines().next()?.trim();
    let rest = first
        .strip_prefix("//")?
        .trim_start()
        .strip_prefix("swift-tools-version")?
        .trim_start()
        .strip_prefix(':')?
        .trim();
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!version.is_empty()).then_some(version)
}

async fn manifest(
    context: &Context<'_>,
    query: Option<&str>,
    scope: &str,
    name: &str,
    version: &str,
) -> Result<Response, DataError> {
    let Release {
        row,
        scope,
        name,
        stored,
        ..
    } = find_release(context, scope, name, version).await?;
    let manifests = stored
        .get("manifests")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let url = format!(
        "{}/Package.swift",
        context.release_url(&scope, &name, &row.version)
    );
    let swift_version = query.and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "swift-version")
            .map(|(_, value)| value.into_owned())
    });
    let file = match &swift_version {
        Some(wanted) => {
            let file = format!("Package@swift-{wanted}.swift");
            if !manifests.contains_key(&file) {
                // 4.3.1: no such version-specific manifest: see the unqualified one.
                let mut response = StatusCode::SEE_OTHER.into_response();
                if let Ok(value) = HeaderValue::from_str(&url) {
                    response.headers_mut().insert(header::LOCATION, value);
                }
                return Ok(response);
            }
            file
        }
        None => "Package.swift".to_owned(),
    };
    let text = manifests
        .get(&file)
        .and_then(Value::as_str)
        .ok_or_else(|| not_found("manifest"))?
        .to_owned();
    let mut response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, SWIFT.to_owned()),
            (header::CACHE_CONTROL, "public, immutable".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        text,
    )
        .into_response();
    if swift_version.is_none() {
        // 4.3: a link for every version-specific manifest in the archive.
        let links: Vec<String> = manifests
            .iter()
            .filter(|(file, _)| file.as_str() != "Package.swift")
            .filter_map(|(file, text)| {
                let swift = file
                    .strip_prefix("Package@swift-")?
                    .strip_suffix(".swift")?;
                let tools = text.as_str().and_then(tools_version).unwrap_or_default();
                Some(format!(
                    "<{url}?swift-version={swift}>; rel=\"alternate\"; filename=\"{file}\"; swift-tools-version=\"{tools}\""
                ))
            })
            .collect();
        link(&mut response, &links);
    }
    Ok(response)
}

async fn archive(
    context: &Context<'_>,
    headers: &HeaderMap,
    scope: &str,
    name: &str,
    version: &str,
) -> Result<Response, DataError> {
    let release = find_release(context, scope, name, version).await?;
    let archive = release.archive(context).await?;
    let Release {
        row, name, stored, ..
    } = release;
    let digest = hex::decode(&archive.digests.sha256)
        .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes))
        .unwrap_or_default();
    let mut response = context
        .state
        .store
        .open_blob(archive.digests.sha256.clone())
        .await?
        .respond(headers);
    let response_headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            response_headers.insert(name, value);
        }
    };
    set("content-type", "application/zip");
    set("cache-control", "public, immutable");
    set("accept-ranges", "bytes");
    set(
        "content-disposition",
        &format!("attachment; filename=\"{name}-{}.zip\"", row.version),
    );
    set("digest", &format!("sha-256={digest}"));
    if let (Some(format), Some(signature)) = (
        stored.get("signatureFormat").and_then(Value::as_str),
        stored.get("signature").and_then(Value::as_str),
    ) {
        set("x-swift-package-signature-format", format);
        set("x-swift-package-signature", signature);
    }
    Ok(response)
}

/// A repository URL as compared for identifier lookups: lowercase, without a trailing
/// `/` or `.git`.
fn comparable_url(url: &str) -> String {
    let lower = url.trim().to_ascii_lowercase();
    let lower = lower.trim_end_matches('/');
    lower.strip_suffix(".git").unwrap_or(lower).to_owned()
}

async fn identifiers(context: &Context<'_>, query: Option<&str>) -> Result<Response, DataError> {
    let Some(url) = query.and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "url")
            .map(|(_, value)| value.into_owned())
    }) else {
        return Err(DataError::bad_request(
            "the `url` query parameter is required",
        ));
    };
    let wanted = comparable_url(&url);
    let (domain, repository) = (context.domain.clone(), context.repository.clone());
    let found = context
        .state
        .store
        .with(move |connection| -> Result<_, DataError> {
            let mut found = Vec::new();
            for package in store::packages(
                connection,
                &domain,
                &repository,
                Some(Format::Swift.name()),
                None,
                None,
            )? {
                let key = PackageKey {
                    domain: domain.clone(),
                    repository: repository.clone(),
                    format: package.format.clone(),
                    namespace: package.namespace.clone(),
                    package: package.package.clone(),
                };
                for row in store::versions(connection, &key)? {
                    let metadata = metadata_of(&row);
                    let urls = metadata
                        .pointer("/metadata/repositoryURLs")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    if urls
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|candidate| comparable_url(candidate) == wanted)
                    {
                        let (scope, name) = spelled(&row, &package.namespace, &package.package);
                        let id = format!("{scope}.{name}");
                        if !found.contains(&id) {
                            found.push(id);
                        }
                        break;
                    }
                }
            }
            Ok(found)
        })
        .await?;
    if found.is_empty() {
        return Err(not_found(&format!("package identifiers for {url}")));
    }
    Ok(json_response(
        StatusCode::OK,
        json!({ "identifiers": found }).to_string(),
    ))
}

/// What a publish body held, checked.
struct Upload {
    archive: crate::server::ingest::Spool,
    manifests: serde_json::Map<String, Value>,
    metadata: Value,
    signature: Option<String>,
}

/// The manifests of a source archive: `Package.swift` and every `Package@swift-*.swift`, at
/// the archive's root or in its one top-level directory (what `swift package
/// archive-source` writes).
fn read_manifests(
    archive: impl std::io::Read + std::io::Seek,
) -> Result<serde_json::Map<String, Value>, String> {
    use std::io::Read as _;
    let mut zip =
        zip::ZipArchive::new(archive).map_err(|error| format!("not a zip archive: {error}"))?;
    let names: Vec<String> = zip.file_names().map(ToOwned::to_owned).collect();
    let prefix = names
        .iter()
        .filter_map(|name| name.strip_suffix("Package.swift"))
        .filter(|prefix| {
            prefix.is_empty() || (prefix.ends_with('/') && prefix.matches('/').count() == 1)
        })
        .min_by_key(|prefix| prefix.len())
        .map(ToOwned::to_owned)
        .ok_or("package doesn't contain a valid manifest (Package.swift) file")?;
    let mut manifests = serde_json::Map::new();
    for name in names {
        let Some(file) = name.strip_prefix(prefix.as_str()) else {
            continue;
        };
        let version_specific = file
            .strip_prefix("Package@swift-")
            .and_then(|rest| rest.strip_suffix(".swift"))
            .is_some_and(|version| {
                !version.is_empty()
                    && version
                        .split('.')
                        .all(|part| part.chars().all(|c| c.is_ascii_digit()) && !part.is_empty())
            });
        if file != "Package.swift" && !version_specific {
            continue;
        }
        let member = zip.by_name(&name).map_err(|error| error.to_string())?;
        if member.size() > MAX_MANIFEST_BYTES {
            return Err(format!("`{name}` is larger than 1 MiB"));
        }
        let mut text = String::new();
        member
            .take(MAX_MANIFEST_BYTES)
            .read_to_string(&mut text)
            .map_err(|_| format!("`{name}` is not UTF-8 text"))?;
        manifests.insert(file.to_owned(), Value::String(text));
    }
    Ok(manifests)
}

/// Read and check a publish body (4.6): a `multipart/form-data` form with a
/// `source-archive` part, optional `metadata` JSON and signatures.
fn read_upload(
    content_type: &str,
    body: &crate::server::ingest::Spool,
    tmp: &std::path::Path,
    limits: crate::server::ingest::Limits,
) -> Result<Result<Upload, DataError>, crate::server::ingest::BodyError> {
    let unprocessable = |detail: &str| {
        Ok(Err(DataError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            detail,
        )))
    };
    let Ok(boundary) = multipart::boundary(content_type) else {
        return Ok(Err(DataError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a release is published as multipart/form-data (section 4.6)",
        )));
    };
    let reader = std::io::BufReader::new(body.reader()?);
    let parts = match multipart::parse_stream(
        reader,
        &boundary,
        tmp,
        limits.max_upload_bytes,
        limits.max_metadata_bytes,
        |name, _| name == "source-archive",
    ) {
        Ok(parts) => parts,
        Err(multipart::StreamError::Body(error)) => return Err(error),
        Err(multipart::StreamError::Form(error)) => {
            return Ok(Err(DataError::bad_request(error.to_string())));
        }
    };
    let mut archive = None;
    let mut metadata = json!({});
    let mut signature = None;
    for part in parts {
        match (part.name.as_str(), part.content) {
            ("source-archive", StreamedContent::File(spool)) => archive = Some(*spool),
            ("metadata", StreamedContent::Field(bytes)) => {
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(value @ Value::Object(_)) => metadata = value,
                    _ => return unprocessable("invalid JSON provided for release metadata"),
                }
            }
            ("source-archive-signature", StreamedContent::Field(bytes)) => {
                signature = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
            }
            _ => {}
        }
    }
    let Some(archive) = archive else {
        return unprocessable("the release has no `source-archive` part");
    };
    let manifests = match read_manifests(std::io::BufReader::new(archive.reader()?)) {
        Ok(manifests) => manifests,
        Err(detail) => return unprocessable(&detail),
    };
    Ok(Ok(Upload {
        archive,
        manifests,
        metadata,
        signature,
    }))
}

async fn publish(
    context: &Context<'_>,
    headers: &HeaderMap,
    body: axum::body::Body,
    scope: &str,
    name: &str,
    version: &str,
) -> Result<Response, DataError> {
    if !valid_scope(scope) {
        return Err(DataError::bad_request(format!(
            "invalid package scope `{scope}`"
        )));
    }
    if !valid_name(name) {
        return Err(DataError::bad_request(format!(
            "invalid package name `{name}`"
        )));
    }
    if semver(version).is_none() {
        return Err(DataError::bad_request(format!(
            "invalid version `{version}` (a Semantic Versioning 2.0 version)"
        )));
    }
    let key = context.key(scope, name);
    let conflict = || {
        DataError::new(
            StatusCode::CONFLICT,
            format!("a release with version {version} already exists"),
        )
    };
    let (lookup, wanted) = (key.clone(), version.to_owned());
    let exists = context
        .state
        .store
        .with(move |connection| -> Result<_, DataError> {
            Ok(store::version(connection, &lookup, &wanted)?.is_some())
        })
        .await?;
    if exists {
        return Err(conflict());
    }
    let state = context.state;
    let spool = crate::server::ingest::spool(
        state.store.tmp_dir(),
        body,
        state.limits.max_upload_bytes,
        state.limits,
    )
    .await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let tmp = state.store.tmp_dir().to_path_buf();
    let limits = state.limits;
    let upload =
        crate::server::ingest::blocking(move || read_upload(&content_type, &spool, &tmp, limits))
            .await??;
    let signature_format = headers
        .get("x-swift-package-signature-format")
        .and_then(|value| value.to_str().ok())
        .map(ToOwned::to_owned);
    let size = upload.archive.size();
    let placed = state.store.put_spool(upload.archive).await?;
    let asset = AssetRow {
        name: format!("{name}-{version}.zip"),
        size,
        digests: placed.digests.clone(),
    };
    let mut stored = json!({
        "scope": scope,
        "name": name,
        "metadata": upload.metadata,
        "manifests": upload.manifests,
    });
    if let Some(signature) = upload.signature {
        stored["signature"] = json!(signature);
        stored["signatureFormat"] =
            json!(signature_format.unwrap_or_else(|| "cms-1.0.0".to_owned()));
    }
    let row = VersionRow {
        id: 0,
        version: version.to_owned(),
        revision: store::new_revision(),
        status: "Published".to_owned(),
        published: state.clock.now(),
        metadata: Some(stored.to_string()),
    };
    let inserted = state
        .store
        .with(
            move |connection| -> Result<Result<(), Option<String>>, DataError> {
                Ok(crate::server::packages::publish_new_version(
                    connection, &key, &row, &asset,
                )?)
            },
        )
        .await?;
    match inserted {
        Ok(()) => drop(placed),
        Err(refused) => {
            state.store.discard(placed).await?;
            return Err(match refused {
                Some(why) => DataError::new(
                    StatusCode::FORBIDDEN,
                    format!("publishing {scope}.{name} {why}"),
                ),
                None => conflict(),
            });
        }
    }
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(value) = HeaderValue::from_str(&context.release_url(scope, name, version)) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_the_specification_endpoints() {
        let release = |version: &str| Target::Release {
            scope: "mona".into(),
            name: "LinkedList".into(),
            version: version.into(),
        };
        assert_eq!(
            parse_target("mona/LinkedList"),
            Some(Target::Releases {
                scope: "mona".into(),
                name: "LinkedList".into()
            })
        );
        assert_eq!(
            parse_target("mona/LinkedList/1.1.1"),
            Some(release("1.1.1"))
        );
        assert_eq!(
            parse_target("mona/LinkedList/1.1.1.json"),
            Some(release("1.1.1"))
        );
        assert!(matches!(
            parse_target("mona/LinkedList/1.1.1.zip"),
            Some(Target::Archive { .. })
        ));
        assert!(matches!(
            parse_target("mona/LinkedList/1.1.1/Package.swift"),
            Some(Target::Manifest { .. })
        ));
        assert_eq!(parse_target("identifiers"), Some(Target::Identifiers));
        assert_eq!(parse_target("a/b/c/d/e"), None);
    }

    #[test]
    fn scopes_names_and_versions_follow_the_specification_patterns() {
        assert!(valid_scope("mona"));
        assert!(valid_scope("a-b"));
        assert!(!valid_scope("-a"));
        assert!(!valid_scope("a--b"));
        assert!(!valid_scope("a_b"));
        assert!(!valid_scope(&"a".repeat(40)));
        assert!(valid_name("Linked_List-2"));
        assert!(!valid_name("a__b"));
        assert!(!valid_name("_a"));
        assert!(semver("1.0.0-alpha.1+build").is_some());
        assert!(semver("1.0").is_none());
        assert!(semver("01.0.0").is_none());
        let mut versions = [
            "1.0.0",
            "1.0.0-rc.1",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "2.0.0",
            "1.10.0",
        ];
        versions.sort_by(|a, b| precedence(&semver(a).unwrap(), &semver(b).unwrap()));
        assert_eq!(
            versions,
            [
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.10.0",
                "2.0.0"
            ]
        );
    }

    #[test]
    fn accept_headers_name_api_version_1() {
        let headers = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
            headers
        };
        for ok in [
            "application/vnd.swift.registry.v1+json",
            "application/vnd.swift.registry.v1+zip",
            "application/vnd.swift.registry.v1",
            "application/vnd.swift.registry+swift",
            "application/json",
            "*/*",
        ] {
            assert!(check_accept(&headers(ok)).is_ok(), "{ok}");
        }
        assert_eq!(
            check_accept(&headers("application/vnd.swift.registry.v2+json"))
                .unwrap_err()
                .status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            check_accept(&headers("application/vnd.swift.registry.vx+json"))
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            tools_version("// swift-tools-version:5.7\nimport"),
            Some("5.7".into())
        );
        assert_eq!(
            tools_version("// swift-tools-version: 4.2.1\n"),
            Some("4.2.1".into())
        );
    }
}
