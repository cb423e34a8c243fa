//! NuGet v3 feeds as external connections: nuget.org, a private feed, a static feed on a
//! web server, or another CodeArtifact repository.
//!
//! What a feed offers for a package id is read from its registration (the resource clients
//! resolve dependencies with), found through its service index: each version's catalog
//! entry becomes version metadata in the shape a push stores. A package is downloaded from
//! the leaf's `packageContent` and checked against the SHA-512 the feed's catalog gives
//! (`packageHash` inline, or in the catalog leaf the entry links to) before anything is
//! stored; a feed that gives no hash is refused, as for the other formats.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::ecosystem::nuget::NuGetVersion;
use crate::ecosystem::nuget::service_index::ServiceIndex;
use crate::server::pull_through::{UpstreamAdapter, UpstreamReader};
use crate::server::upstream::{ExternalConnection, Externals};

/// Registration resource types, most complete first: 3.6.0 includes SemVer 2.0.0 packages
/// (nuget.org serves it gzip-compressed, which [`gunzip_if_needed`] undoes).
const REGISTRATION_TYPES: &[&str] = &[
    "RegistrationsBaseUrl/3.6.0",
    "RegistrationsBaseUrl/3.4.0",
    "RegistrationsBaseUrl/3.0.0-rc",
    "RegistrationsBaseUrl/3.0.0-beta",
    "RegistrationsBaseUrl",
];

const ACCEPT_JSON: &str = "application/json";

/// A version a feed lists.
#[derive(Debug, Clone)]
pub struct UpstreamVersion {
    /// The version.
    pub version: NuGetVersion,
    /// Whether the feed lists it (unlisted versions still restore when pinned).
    pub listed: bool,
    /// Version metadata in the shape a push stores (id, authors, dependency groups...).
    pub metadata: Value,
    /// Where the `.nupkg` is.
    pub content: url::Url,
    /// Lowercase hex SHA-512 from the registration, when it carries `packageHash`.
    pub sha512: Option<String>,
    /// The catalog leaf to read `packageHash` from otherwise.
    pub catalog: Option<url::Url>,
}

/// nuget.org's registration hives are stored gzip-compressed and served with
/// `Content-Encoding: gzip` whatever the request says.
fn gunzip_if_needed(body: &[u8]) -> Result<Vec<u8>, String> {
    /// More than any registration page (a guard against a gzip bomb from a feed).
    const MAX_INFLATED: u64 = 256 * 1024 * 1024;
    if body.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let decoder = flate2::read::GzDecoder::new(body);
        std::io::Read::read_to_end(
            &mut std::io::Read::take(decoder, MAX_INFLATED + 1),
            &mut out,
        )
        .map_err(|error| format!("cannot decompress the gzip answer: {error}"))?;
        if out.len() as u64 > MAX_INFLATED {
            return Err(format!(
                "the gzip answer inflates to more than {} MiB",
                MAX_INFLATED / 1024 / 1024
            ));
        }
        Ok(out)
    } else {
        Ok(body.to_vec())
    }
}

/// Fetch a JSON document (cached; the cached copy when the feed is down): `Ok(None)` on 404.
async fn document(
    upstream: &mut UpstreamReader<'_>,
    url: &url::Url,
    cache_key: &str,
) -> Result<Option<Value>, String> {
    let Some(body) = upstream.document(url, ACCEPT_JSON, cache_key).await? else {
        return Ok(None);
    };
    let name = &upstream.connection.name;
    let body = gunzip_if_needed(&body).map_err(|error| format!("{name}: {error}"))?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|error| format!("{name}: {url} is not JSON: {error}"))
}

/// The feed's service index URL: the connection URL when it names a `.json` file, else
/// `index.json` under it.
fn service_index_url(connection: &ExternalConnection) -> Result<url::Url, String> {
    if connection
        .url
        .path()
        .to_ascii_lowercase()
        .ends_with(".json")
    {
        Ok(connection.url.clone())
    } else {
        connection
            .url
            .join("index.json")
            .map_err(|error| format!("{}: bad URL: {error}", connection.name))
    }
}

/// The registration base URL from a service index document.
fn registration_base(index: &Value) -> Option<url::Url> {
    ServiceIndex::from_document(index)
        .ok()?
        .base_url(REGISTRATION_TYPES)
}

/// What a NuGet v3 feed (an external connection of format `nuget`) lists for a package id,
/// read from its registration, found through its service index.
pub struct Registration<'a>(pub &'a str);

impl UpstreamAdapter for Registration<'_> {
    const FORMAT: crate::format::Format = crate::format::Format::Nuget;
    type Document = Vec<UpstreamVersion>;

    async fn read(
        &self,
        upstream: &mut UpstreamReader<'_>,
    ) -> Result<Option<Vec<UpstreamVersion>>, String> {
        versions(upstream, self.0).await
    }
}

/// What the feed lists for `lower_id`. `Ok(None)`: the feed does not have the package.
/// `Err`: a note for the response header.
///
/// # Errors
/// The feed is down with nothing cached, or answers with something that is not a feed.
async fn versions(
    upstream: &mut UpstreamReader<'_>,
    lower_id: &str,
) -> Result<Option<Vec<UpstreamVersion>>, String> {
    let connection = upstream.connection;
    let index_url = service_index_url(connection)?;
    let index = document(upstream, &index_url, "nuget-service-index")
        .await?
        .ok_or_else(|| format!("{}: no service index at {index_url}", connection.name))?;
    let base = registration_base(&index).ok_or_else(|| {
        format!(
            "{}: the service index at {index_url} has no RegistrationsBaseUrl",
            connection.name
        )
    })?;
    let registration_url = base
        .join(&format!("{}/index.json", encode(lower_id)))
        .map_err(|error| format!("{}: bad URL: {error}", connection.name))?;
    let key = format!("nuget-registration/{lower_id}");
    let Some(registration) = document(upstream, &registration_url, &key).await? else {
        return Ok(None);
    };
    let mut found = Vec::new();
    for page in registration
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let fetched;
        let page = if page.get("items").is_some() {
            page
        } else {
            // Large registrations link their pages instead of inlining them.
            let Some(page_url) = page
                .get("@id")
                .and_then(Value::as_str)
                .and_then(|text| url::Url::parse(text).ok())
            else {
                continue;
            };
            let page_key = format!("{key}/{page_url}");
            match document(upstream, &page_url, &page_key).await? {
                Some(document) => {
                    fetched = document;
                    &fetched
                }
                None => {
                    return Err(format!(
                        "{}: the registration of `{lower_id}` links the page {page_url}, which is not there",
                        connection.name
                    ));
                }
            }
        };
        for leaf in page
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(version) = upstream_version(leaf) {
                found.push(version);
            }
        }
    }
    Ok(Some(found))
}

/// A path segment: NuGet ids are letters, digits, `.`, `-` and `_`; anything else is escaped.
fn encode(segment: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'.')
        .remove(b'-')
        .remove(b'_');
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

/// One registration leaf as an [`UpstreamVersion`]; `None` when it lacks what a client needs.
fn upstream_version(leaf: &Value) -> Option<UpstreamVersion> {
    let entry = leaf.get("catalogEntry")?;
    let text = |field: &str| entry.get(field).and_then(Value::as_str);
    let version = NuGetVersion::parse(text("version")?).ok()?;
    let content = leaf
        .get("packageContent")
        .or_else(|| entry.get("packageContent"))
        .and_then(Value::as_str)
        .and_then(|text| url::Url::parse(text).ok())?;
    let sha512 = match (text("packageHash"), text("packageHashAlgorithm")) {
        (Some(hash), algorithm)
            if algorithm.is_none_or(|name| name.eq_ignore_ascii_case("SHA512")) =>
        {
            base64::engine::general_purpose::STANDARD
                .decode(hash)
                .ok()
                .map(hex::encode)
        }
        _ => None,
    };
    let catalog = text("@id")
        .and_then(|text| url::Url::parse(text).ok())
        .filter(|url| url.fragment().is_none());
    let authors = match entry.get("authors") {
        Some(Value::Array(names)) => json!(
            names
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(value) => value.clone(),
        None => json!(""),
    };
    let tags = match entry.get("tags") {
        Some(Value::String(tags)) => json!(tags.split_whitespace().collect::<Vec<_>>()),
        Some(value) => value.clone(),
        None => json!([]),
    };
    let groups: Vec<Value> = entry
        .get("dependencyGroups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|group| {
            let dependencies: Vec<Value> = group
                .get("dependencies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|dependency| {
                    Some(json!({
                        "id": dependency.get("id")?.as_str()?,
                        "range": dependency.get("range").and_then(Value::as_str).unwrap_or("(, )"),
                    }))
                })
                .collect();
            json!({
                "targetFramework": group.get("targetFramework").and_then(Value::as_str),
                "dependencies": dependencies,
            })
        })
        .collect();
    let project_url = entry.get("projectUrl").cloned().unwrap_or(Value::Null);
    let metadata = json!({
        "id": text("id")?,
        "version": version.full(),
        "originalVersion": text("version"),
        "authors": authors,
        "description": entry.get("description").cloned().unwrap_or_else(|| json!("")),
        "title": entry.get("title").cloned().unwrap_or(Value::Null),
        "summary": entry.get("summary").cloned().unwrap_or(Value::Null),
        "tags": tags,
        "projectUrl": project_url,
        "homepage": project_url,
        "licenseUrl": entry.get("licenseUrl").cloned().unwrap_or(Value::Null),
        "license": entry.get("licenseExpression").cloned().unwrap_or(Value::Null),
        "dependencyGroups": groups,
    });
    Some(UpstreamVersion {
        listed: entry.get("listed").and_then(Value::as_bool).unwrap_or(true),
        version,
        metadata,
        content,
        sha512,
        catalog,
    })
}

/// The SHA-512 (lowercase hex) the feed claims for the package of `version`: from the
/// registration, else from the catalog leaf it links.
///
/// # Errors
/// No hash anywhere, or the catalog leaf could not be fetched.
pub async fn package_hash(
    externals: &Externals,
    connection: &ExternalConnection,
    version: &UpstreamVersion,
) -> Result<String, String> {
    let mut sha512 = version.sha512.clone();
    if sha512.is_none()
        && let Some(catalog) = &version.catalog
    {
        let leaf = externals.fetch_optional(connection, catalog).await?;
        sha512 = leaf
            .and_then(|body| gunzip_if_needed(&body).ok())
            .and_then(|body| serde_json::from_slice::<Value>(&body).ok())
            .and_then(|leaf| {
                let algorithm = leaf.get("packageHashAlgorithm").and_then(Value::as_str);
                if algorithm.is_some_and(|name| !name.eq_ignore_ascii_case("SHA512")) {
                    return None;
                }
                let hash = leaf.get("packageHash")?.as_str()?;
                base64::engine::general_purpose::STANDARD
                    .decode(hash)
                    .ok()
                    .map(hex::encode)
            });
    }
    sha512.ok_or_else(|| {
        "the feed gives no SHA-512 packageHash for it (neither in the registration nor in the catalog)"
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_leaves_become_metadata_with_the_hash_in_hex() {
        let hash = base64::engine::general_purpose::STANDARD.encode([0xab_u8; 64]);
        let leaf = json!({
            "@id": "https://feed/registration/acme.lib/1.0.0.json",
            "packageContent": "https://feed/flat/acme.lib/1.0.0/acme.lib.1.0.0.nupkg",
            "catalogEntry": {
                "@id": "https://feed/catalog/acme.lib.1.0.0.json",
                "id": "Acme.Lib",
                "version": "1.0.0",
                "authors": ["Ann", "Bo"],
                "tags": "one two",
                "listed": false,
                "packageHash": hash,
                "packageHashAlgorithm": "SHA512",
                "dependencyGroups": [
                    {"targetFramework": ".NETStandard2.0", "dependencies": [
                        {"id": "Acme.Base", "range": "[2.0.0, )"}
                    ]},
                    {"@id": "x"}
                ]
            }
        });
        let version = upstream_version(&leaf).unwrap();
        assert_eq!(version.version.key(), "1.0.0");
        assert!(!version.listed);
        assert_eq!(version.sha512.as_deref(), Some("ab".repeat(64).as_str()));
        assert_eq!(
            version.catalog.unwrap().as_str(),
            "https://feed/catalog/acme.lib.1.0.0.json"
        );
        assert_eq!(version.metadata["id"], "Acme.Lib");
        assert_eq!(version.metadata["authors"], "Ann, Bo");
        assert_eq!(version.metadata["tags"], json!(["one", "two"]));
        assert_eq!(
            version.metadata["dependencyGroups"][0],
            json!({"targetFramework": ".NETStandard2.0", "dependencies": [{"id": "Acme.Base", "range": "[2.0.0, )"}]})
        );
        assert_eq!(
            version.metadata["dependencyGroups"][1]["dependencies"],
            json!([])
        );
        // A leaf without a package URL or a version is not offered.
        assert!(
            upstream_version(&json!({"catalogEntry": {"id": "A", "version": "1.0"}})).is_none()
        );
        assert!(
            upstream_version(
                &json!({"packageContent": "https://f/a.nupkg", "catalogEntry": {"id": "A"}})
            )
            .is_none()
        );
    }

    #[test]
    fn the_most_complete_registration_resource_is_chosen_and_gzip_is_undone() {
        let index = json!({"version": "3.0.0", "resources": [
            {"@id": "https://feed/reg-semver1", "@type": "RegistrationsBaseUrl"},
            {"@id": "https://feed/reg-gz-semver2/", "@type": ["RegistrationsBaseUrl/3.6.0"]},
        ]});
        assert_eq!(
            registration_base(&index).unwrap().as_str(),
            "https://feed/reg-gz-semver2/"
        );
        let index =
            json!({"resources": [{"@id": "https://feed/reg", "@type": "RegistrationsBaseUrl"}]});
        assert_eq!(
            registration_base(&index).unwrap().as_str(),
            "https://feed/reg/"
        );
        assert!(registration_base(&json!({"resources": []})).is_none());
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, b"{\"a\":1}").unwrap();
        let compressed = encoder.finish().unwrap();
        assert_eq!(gunzip_if_needed(&compressed).unwrap(), b"{\"a\":1}");
        assert_eq!(gunzip_if_needed(b"{}").unwrap(), b"{}");
    }
}
