//! `cargo publish` without cargo: the Web API's `PUT {api}/api/v1/crates/new` (cargo's
//! "Registry Web API" reference; `crates-io` `Registry::publish`), with the token as the
//! whole `Authorization` value as cargo sends it (`Bearer <token>` on CodeArtifact, as
//! `lading login --tool cargo` configures cargo).
//!
//! The body is cargo's: a little-endian `u32` length, the JSON metadata (`NewCrate`), a
//! `u32` length, the `.crate`. The metadata is built from the `.crate`'s own normalized
//! `Cargo.toml` as cargo's `prepare_transmit` builds it from the package it just packaged:
//! dependencies in cargo's order (`dependencies`, `dev-dependencies`,
//! `build-dependencies`, then per `[target.<platform>]` normal, build, dev; each table by
//! name), `version_req` as the `semver` crate prints the requirement, `registry` only for a
//! dependency from another registry than the one published to (crates.io's index URL for
//! crates.io dependencies), `explicit_name_in_toml` for a renamed one, `target` as cargo
//! prints the platform; the readme's text from the `.crate`.
//!
//! Before uploading, the sparse index (`config.json`, then the crate's index file) says
//! whether the version exists: the same `cksum` is already published, another is a
//! conflict. After uploading, the index line must carry the `.crate`'s sha256 and the
//! download (`dl` of `config.json`) must be the same bytes.

#![expect(
    clippy::result_large_err,
    reason = "PublishError holds HttpError by value so the exit-code classifier finds it in the chain"
)]

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::pack::{CrateFile, read_crate};
use super::serve::index::{index_path, prefix, without_build};
use crate::ecosystem::publish::{
    Auth, FilePublishing, FileReport, Outcome, PublishError, PublishFile, PublishedFile, Session,
    Target, Upload, check_read_back, join,
};
use crate::secret::{SafeUrl, Secret};

/// The index URL cargo names crates.io dependencies with in the publish metadata
/// (`SourceId::crates_io`).
const CRATES_IO_INDEX: &str = "https://github.com/rust-lang/crates.io-index";

/// The publish metadata, as `crates-io`'s `NewCrate` serializes it (field order included).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NewCrate {
    /// `package.name`.
    pub name: String,
    /// `package.version`.
    pub vers: String,
    /// The dependencies.
    pub deps: Vec<NewCrateDependency>,
    /// `[features]`.
    pub features: BTreeMap<String, Vec<String>>,
    /// `package.authors`.
    pub authors: Vec<String>,
    /// `package.description`.
    pub description: Option<String>,
    /// `package.documentation`.
    pub documentation: Option<String>,
    /// `package.homepage`.
    pub homepage: Option<String>,
    /// The readme's text.
    pub readme: Option<String>,
    /// `package.readme` (its path in the crate).
    pub readme_file: Option<String>,
    /// `package.keywords`.
    pub keywords: Vec<String>,
    /// `package.categories`.
    pub categories: Vec<String>,
    /// `package.license`.
    pub license: Option<String>,
    /// `package.license-file`.
    pub license_file: Option<String>,
    /// `package.repository`.
    pub repository: Option<String>,
    /// `[badges]`.
    pub badges: BTreeMap<String, BTreeMap<String, String>>,
    /// `package.links`.
    pub links: Option<String>,
    /// `package.rust-version`.
    pub rust_version: Option<String>,
}

/// One dependency of [`NewCrate`], as `crates-io`'s `NewCrateDependency` serializes it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NewCrateDependency {
    /// `optional`.
    pub optional: bool,
    /// `default-features`.
    pub default_features: bool,
    /// The crate's real name (`package` when renamed).
    pub name: String,
    /// `features`.
    pub features: Vec<String>,
    /// The version requirement as `semver` prints it (`0.1` → `^0.1`).
    pub version_req: String,
    /// The platform of a `[target.<platform>]` table.
    pub target: Option<String>,
    /// `normal`, `dev` or `build`.
    pub kind: String,
    /// The index URL of another registry than the one published to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The name in `Cargo.toml` of a renamed dependency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explicit_name_in_toml: Option<String>,
}

/// A URL compared as cargo compares registries: without `sparse+` and a trailing `/`.
fn registry_key(url: &str) -> String {
    url.trim_start_matches("sparse+")
        .trim_end_matches('/')
        .to_owned()
}

/// A version requirement as cargo prints it: `semver::VersionReq`'s form, `*` when none.
fn version_req(text: Option<&str>) -> Result<String, String> {
    match text {
        None => Ok("*".to_owned()),
        Some(text) => semver::VersionReq::parse(text)
            .map(|req| req.to_string())
            .map_err(|error| format!("invalid version requirement `{text}`: {error}")),
    }
}

/// A platform as cargo prints it (`cargo-platform`'s `Display`): a target name as it is,
/// a `cfg(…)` expression re-spaced (`cfg(any(unix,windows))` → `cfg(any(unix, windows))`).
fn platform(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let Some(inner) = trimmed
        .strip_prefix("cfg(")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return Ok(trimmed.to_owned());
    };
    let tokens = cfg_tokens(inner)?;
    let mut at = 0;
    let expression = cfg_expression(&tokens, &mut at)?;
    if at != tokens.len() {
        return Err(format!("unexpected content in `{text}`"));
    }
    Ok(format!("cfg({expression})"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CfgToken {
    Ident(String),
    Text(String),
    Open,
    Close,
    Comma,
    Equals,
}

fn cfg_tokens(text: &str) -> Result<Vec<CfgToken>, String> {
    let mut tokens = Vec::new();
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            ' ' | '\t' | '\n' | '\r' => {}
            '(' => tokens.push(CfgToken::Open),
            ')' => tokens.push(CfgToken::Close),
            ',' => tokens.push(CfgToken::Comma),
            '=' => tokens.push(CfgToken::Equals),
            '"' => {
                let mut value = String::new();
                loop {
                    match characters.next() {
                        Some('"') => break,
                        Some(character) => value.push(character),
                        None => return Err(format!("unterminated string in `cfg({text})`")),
                    }
                }
                tokens.push(CfgToken::Text(value));
            }
            character if character.is_alphanumeric() || character == '_' => {
                let mut ident = String::from(character);
                while let Some(&next) = characters.peek() {
                    if next.is_alphanumeric() || next == '_' {
                        ident.push(next);
                        characters.next();
                    } else {
                        break;
                    }
                }
                tokens.push(CfgToken::Ident(ident));
            }
            other => return Err(format!("unexpected `{other}` in `cfg({text})`")),
        }
    }
    Ok(tokens)
}

fn cfg_expression(tokens: &[CfgToken], at: &mut usize) -> Result<String, String> {
    let Some(CfgToken::Ident(ident)) = tokens.get(*at) else {
        return Err("a cfg expression must start with a name".to_owned());
    };
    *at += 1;
    match tokens.get(*at) {
        Some(CfgToken::Open) if matches!(ident.as_str(), "all" | "any" | "not") => {
            *at += 1;
            let mut parts = Vec::new();
            while tokens.get(*at) != Some(&CfgToken::Close) {
                parts.push(cfg_expression(tokens, at)?);
                match tokens.get(*at) {
                    Some(CfgToken::Comma) => *at += 1,
                    Some(CfgToken::Close) => {}
                    _ => return Err(format!("expected `,` or `)` in `{ident}(…)`")),
                }
            }
            *at += 1;
            Ok(format!("{ident}({})", parts.join(", ")))
        }
        Some(CfgToken::Equals) => {
            *at += 1;
            let Some(CfgToken::Text(value)) = tokens.get(*at) else {
                return Err(format!("expected a string after `{ident} =`"));
            };
            *at += 1;
            Ok(format!("{ident} = \"{value}\""))
        }
        _ => Ok(ident.clone()),
    }
}

fn strings(item: Option<&toml_edit::Item>) -> Vec<String> {
    item.and_then(toml_edit::Item::as_array)
        .map(|array| {
            array
                .iter()
                .filter_map(|value| value.as_str().map(ToOwned::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The dependencies of one table (`[dependencies]`, `[target.'cfg(unix)'.dev-dependencies]`,
/// …), by name, as cargo reads them.
fn table_dependencies(
    table: Option<&toml_edit::Item>,
    kind: &str,
    target: Option<&str>,
    registry_index: &str,
    deps: &mut Vec<NewCrateDependency>,
) -> Result<(), String> {
    let Some(table) = table.and_then(toml_edit::Item::as_table_like) else {
        return Ok(());
    };
    let mut entries: Vec<(&str, &toml_edit::Item)> = table.iter().collect();
    entries.sort_by(|left, right| left.0.cmp(right.0));
    for (name_in_toml, item) in entries {
        let (version, detail) = if let Some(version) = item.as_str() {
            (Some(version), None)
        } else {
            let detail = item.as_table_like().ok_or_else(|| {
                format!("dependency `{name_in_toml}` is neither a version nor a table")
            })?;
            (
                detail.get("version").and_then(toml_edit::Item::as_str),
                Some(detail),
            )
        };
        let field = |key: &str| detail.and_then(|detail| detail.get(key));
        let flag = |keys: &[&str], default: bool| {
            keys.iter()
                .find_map(|key| field(key).and_then(toml_edit::Item::as_bool))
                .unwrap_or(default)
        };
        let package = field("package").and_then(toml_edit::Item::as_str);
        let registry = match field("registry-index").and_then(toml_edit::Item::as_str) {
            Some(index) if registry_key(index) == registry_key(registry_index) => None,
            Some(index) => Some(
                url::Url::parse(index).map_or_else(|_| index.to_owned(), |url| url.to_string()),
            ),
            None if registry_key(registry_index) == CRATES_IO_INDEX => None,
            None => Some(CRATES_IO_INDEX.to_owned()),
        };
        deps.push(NewCrateDependency {
            optional: flag(&["optional"], false),
            default_features: flag(&["default-features", "default_features"], true),
            name: package.unwrap_or(name_in_toml).to_owned(),
            features: strings(field("features")),
            version_req: version_req(version)
                .map_err(|message| format!("dependency `{name_in_toml}`: {message}"))?,
            target: target.map(ToOwned::to_owned),
            kind: kind.to_owned(),
            registry,
            explicit_name_in_toml: package.map(|_| name_in_toml.to_owned()),
        });
    }
    Ok(())
}

/// The first of `keys` present in `table` (cargo reads `dev_dependencies` too).
fn either<'a>(table: &'a dyn toml_edit::TableLike, keys: &[&str]) -> Option<&'a toml_edit::Item> {
    keys.iter().find_map(|key| table.get(key))
}

/// The publish metadata for `crate_file` published to the registry whose index is
/// `registry_index` (the endpoint: a dependency naming it has no `registry`).
///
/// # Errors
/// A manifest cargo would not have written (bad requirements, platforms, tables).
pub fn new_crate(crate_file: &CrateFile, registry_index: &str) -> Result<NewCrate, String> {
    let manifest = crate_file.manifest.as_table();
    let package = manifest
        .get("package")
        .and_then(toml_edit::Item::as_table_like)
        .ok_or("the `Cargo.toml` has no `[package]`")?;
    let text = |key: &str| {
        package
            .get(key)
            .and_then(toml_edit::Item::as_str)
            .map(ToOwned::to_owned)
    };
    let mut deps = Vec::new();
    let root: &dyn toml_edit::TableLike = manifest;
    table_dependencies(
        root.get("dependencies"),
        "normal",
        None,
        registry_index,
        &mut deps,
    )?;
    table_dependencies(
        either(root, &["dev-dependencies", "dev_dependencies"]),
        "dev",
        None,
        registry_index,
        &mut deps,
    )?;
    table_dependencies(
        either(root, &["build-dependencies", "build_dependencies"]),
        "build",
        None,
        registry_index,
        &mut deps,
    )?;
    if let Some(targets) = root.get("target").and_then(toml_edit::Item::as_table_like) {
        let mut platforms: Vec<(&str, &toml_edit::Item)> = targets.iter().collect();
        platforms.sort_by(|left, right| left.0.cmp(right.0));
        for (name, tables) in platforms {
            let Some(tables) = tables.as_table_like() else {
                continue;
            };
            let target = platform(name)?;
            for (keys, kind) in [
                (&["dependencies"][..], "normal"),
                (&["build-dependencies", "build_dependencies"][..], "build"),
                (&["dev-dependencies", "dev_dependencies"][..], "dev"),
            ] {
                table_dependencies(
                    either(tables, keys),
                    kind,
                    Some(&target),
                    registry_index,
                    &mut deps,
                )?;
            }
        }
    }
    let features = root
        .get("features")
        .and_then(toml_edit::Item::as_table_like)
        .map(|table| {
            table
                .iter()
                .map(|(name, values)| (name.to_owned(), strings(Some(values))))
                .collect()
        })
        .unwrap_or_default();
    let badges = root
        .get("badges")
        .and_then(toml_edit::Item::as_table_like)
        .map(|table| {
            table
                .iter()
                .map(|(badge, fields)| {
                    let fields = fields
                        .as_table_like()
                        .map(|fields| {
                            fields
                                .iter()
                                .filter_map(|(key, value)| {
                                    Some((key.to_owned(), value.as_str()?.to_owned()))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    (badge.to_owned(), fields)
                })
                .collect()
        })
        .unwrap_or_default();
    let vers = semver::Version::parse(&crate_file.version)
        .map_err(|error| format!("`{}` is not a semver version: {error}", crate_file.version))?
        .to_string();
    Ok(NewCrate {
        name: crate_file.name.clone(),
        vers,
        deps,
        features,
        authors: strings(package.get("authors")),
        description: text("description"),
        documentation: text("documentation"),
        homepage: text("homepage"),
        readme: crate_file.readme.clone(),
        readme_file: text("readme"),
        keywords: strings(package.get("keywords")),
        categories: strings(package.get("categories")),
        license: text("license"),
        license_file: text("license-file"),
        repository: text("repository"),
        badges,
        links: text("links"),
        rust_version: text("rust-version"),
    })
}

/// The Web API publish body: `u32` LE length, the JSON, `u32` LE length, the `.crate`.
///
/// # Errors
/// A part over 4 GiB.
pub fn publish_body(metadata: &NewCrate, crate_bytes: &[u8]) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(metadata).map_err(|error| error.to_string())?;
    let length = |bytes: &[u8]| {
        u32::try_from(bytes.len())
            .map(u32::to_le_bytes)
            .map_err(|_| "a part of the publish body is over 4 GiB".to_owned())
    };
    let mut body = Vec::with_capacity(8 + json.len() + crate_bytes.len());
    body.extend_from_slice(&length(&json)?);
    body.extend_from_slice(&json);
    body.extend_from_slice(&length(crate_bytes)?);
    body.extend_from_slice(crate_bytes);
    Ok(body)
}

/// The download URL of `name` `version` from `config.json`'s `dl`: a template with
/// `{crate}`, `{version}`, `{prefix}`, `{lowerprefix}`, `{sha256-checksum}`, else
/// `{dl}/{crate}/{version}/download`.
#[must_use]
pub fn download_url(dl: &str, name: &str, version: &str, cksum: &str) -> String {
    const MARKERS: [&str; 5] = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if MARKERS.iter().any(|marker| dl.contains(marker)) {
        dl.replace("{crate}", name)
            .replace("{version}", version)
            .replace("{prefix}", &prefix(name))
            .replace("{lowerprefix}", &prefix(&name.to_ascii_lowercase()))
            .replace("{sha256-checksum}", cksum)
    } else {
        format!("{}/{name}/{version}/download", dl.trim_end_matches('/'))
    }
}

/// The registry's `config.json`: `(dl, api)`.
async fn registry_config(session: &Session) -> Result<(String, String), PublishError> {
    let url = session.join("config.json")?;
    let body = session.get(&url).await?;
    let config: Value = serde_json::from_slice(&body).map_err(|error| {
        PublishError::Invalid(format!("{} is not JSON: {error}", url.redacted()))
    })?;
    let field = |name: &str| {
        config[name].as_str().map(ToOwned::to_owned).ok_or_else(|| {
            PublishError::Invalid(format!(
                "{} has no `{name}`: the registry does not take publishes",
                url.redacted()
            ))
        })
    };
    Ok((field("dl")?, field("api")?))
}

/// The index line of `version` (build metadata ignored, as crates.io compares versions).
async fn index_line(
    session: &Session,
    name: &str,
    version: &str,
) -> Result<(Option<Value>, SafeUrl), PublishError> {
    let url = session.join(&index_path(name))?;
    let found = session.get_optional(&url, None).await?.and_then(|body| {
        String::from_utf8_lossy(&body)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|line| {
                line["vers"]
                    .as_str()
                    .is_some_and(|listed| without_build(listed) == without_build(version))
            })
    });
    Ok((found, url))
}

/// Publish one `.crate`.
///
/// # Errors
/// [`PublishError`].
pub async fn publish(session: &Session, upload: &Upload) -> Result<PublishedFile, PublishError> {
    let crate_file = read_crate(&upload.bytes)
        .map_err(|message| PublishError::Invalid(format!("`{}`: {message}", upload.file_name)))?;
    let (name, version) = (crate_file.name.clone(), crate_file.version.clone());
    let published = |report| PublishedFile {
        report,
        package: name.clone(),
        version: version.clone(),
    };
    let local = upload.digests.sha256.clone();
    let (existing, index_url) = index_line(session, &name, &version).await?;
    if let Some(line) = existing {
        let remote = line["cksum"].as_str().unwrap_or_default();
        if remote == local {
            return Ok(published(FileReport::new(
                upload,
                &index_url.redacted(),
                Outcome::AlreadyPublished,
            )));
        }
        return Err(PublishError::DigestMismatch {
            file: upload.file_name.clone(),
            package: name,
            version: line["vers"].as_str().unwrap_or(&version).to_owned(),
            existing: format!("sha256:{remote}"),
            local: format!("sha256:{local}"),
        });
    }
    let metadata = new_crate(&crate_file, session.endpoint.expose().as_str())
        .map_err(|message| PublishError::Invalid(format!("`{}`: {message}", upload.file_name)))?;
    let (dl, api) = registry_config(session).await?;
    let publish_url = join(
        &SafeUrl::parse(&api).map_err(|error| {
            PublishError::Invalid(format!("config.json's `api` `{api}`: {error}"))
        })?,
        "api/v1/crates/new",
    )?;
    if session.dry_run {
        return Ok(published(FileReport::new(
            upload,
            &publish_url.redacted(),
            Outcome::WouldPublish,
        )));
    }
    let body = publish_body(&metadata, &upload.bytes).map_err(PublishError::Invalid)?;
    let auth = session.auth.clone();
    let sent = session
        .client
        .send(Method::PUT, &publish_url, |request| {
            auth.apply(request)
                .header(reqwest::header::ACCEPT, "application/json")
                .body(body.clone())
        })
        .await;
    let refused = match sent {
        // Cargo reads `{"errors": [{"detail": …}]}` as a refusal whatever the status.
        Ok(response) => {
            let text = response.text().await.unwrap_or_default();
            api_errors(&text).map(|errors| {
                PublishError::Invalid(format!("the registry refused {name}@{version}: {errors}"))
            })
        }
        Err(error) => Some(PublishError::http(format!("publish {name}@{version}"))(
            error,
        )),
    };
    if let Some(refused) = refused {
        // A retried PUT whose first attempt landed is refused as a republish: what
        // matters is whether the index now lists these bytes.
        let (landed, _) = index_line(session, &name, &version).await?;
        if landed.is_none_or(|line| line["cksum"].as_str() != Some(local.as_str())) {
            return Err(refused);
        }
    }
    let (line, index_url) = index_line(session, &name, &version).await?;
    let line = line.ok_or_else(|| {
        PublishError::Invalid(format!(
            "{name}@{version} is not in {} after publishing",
            index_url.redacted()
        ))
    })?;
    let listed = line["cksum"].as_str().unwrap_or_default();
    if listed != local {
        return Err(PublishError::ReadBack {
            file: upload.file_name.clone(),
            url: index_url.redacted(),
            expected: format!("sha256:{local}"),
            actual: format!("sha256:{listed}"),
        });
    }
    let download = SafeUrl::parse(&download_url(&dl, &name, &version, &local))
        .map_err(|error| PublishError::Invalid(format!("config.json's `dl` `{dl}`: {error}")))?;
    let read_back = session.get(&download).await?;
    check_read_back(upload, &download, &read_back)?;
    Ok(published(FileReport::new(
        upload,
        &download.redacted(),
        Outcome::Published,
    )))
}

/// The `detail`s of a Web API error body, joined.
fn api_errors(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    let errors = value.get("errors")?.as_array()?;
    let details: Vec<&str> = errors
        .iter()
        .filter_map(|error| error["detail"].as_str())
        .collect();
    (!details.is_empty()).then(|| details.join(", "))
}

impl PublishFile for super::Cargo {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Cargo
    }

    /// Cargo sends its token as the whole `Authorization` value; `lading login --tool
    /// cargo` gives it `Bearer <token>` for CodeArtifact, the token itself elsewhere.
    fn prepare_session(&self, target: &Target, session: &mut Session) {
        if let Some(token) = session.auth.secret() {
            let value = if target.codeartifact.is_some() {
                format!("Bearer {}", token.expose())
            } else {
                token.expose().to_owned()
            };
            session.auth = Auth::Raw(Secret::new(value));
        }
    }

    fn publish_file<'a>(
        &'a self,
        _target: &'a Target,
        session: &'a Session,
        upload: &'a Upload,
    ) -> FilePublishing<'a> {
        Box::pin(publish(session, upload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );

    fn crate_with(manifest: &str) -> CrateFile {
        CrateFile {
            name: "demo".to_owned(),
            version: "1.0.0".to_owned(),
            manifest: manifest.parse().unwrap(),
            readme: Some("# demo\n".to_owned()),
            entries: Vec::new(),
        }
    }

    #[test]
    fn metadata_follows_cargo_order_requirements_and_registries() {
        let here = "http://127.0.0.1:1/d/local/cargo/main/";
        let crate_file = crate_with(&format!(
            r#"
[package]
name = "demo"
version = "1.0.0"
authors = ["A <a@example.com>"]
description = "d"
readme = "README.md"
license = "MIT"
links = "demo"
rust-version = "1.70"

[dependencies.zeta]
version = "1"
registry-index = "sparse+{here}"

[dependencies.alpha]
version = "=0.2.3"
features = ["x"]
optional = true
default-features = false
package = "real-alpha"

[dev-dependencies]
serde = "1.0.100"

[build-dependencies.cc]
version = "1"
registry-index = "sparse+http://elsewhere/index/"

[target."cfg(any(unix,windows))".dependencies]
libc = "0.2"

[target.x86_64-unknown-linux-gnu.dev-dependencies]
tiny = "~1.2"

[features]
default = ["alpha"]
extra = ["dep:alpha", "alpha?/x"]

[badges.maintenance]
status = "actively-developed"
"#
        ));
        let metadata = new_crate(&crate_file, here).unwrap();
        let deps: Vec<Row<'_>> = metadata
            .deps
            .iter()
            .map(|dep| {
                (
                    dep.name.as_str(),
                    dep.kind.as_str(),
                    dep.version_req.as_str(),
                    dep.target.as_deref(),
                    dep.registry.as_deref(),
                    dep.explicit_name_in_toml.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            deps,
            [
                (
                    "real-alpha",
                    "normal",
                    "=0.2.3",
                    None,
                    Some(CRATES_IO_INDEX),
                    Some("alpha")
                ),
                ("zeta", "normal", "^1", None, None, None),
                (
                    "serde",
                    "dev",
                    "^1.0.100",
                    None,
                    Some(CRATES_IO_INDEX),
                    None
                ),
                (
                    "cc",
                    "build",
                    "^1",
                    None,
                    Some("sparse+http://elsewhere/index/"),
                    None
                ),
                (
                    "libc",
                    "normal",
                    "^0.2",
                    Some("cfg(any(unix, windows))"),
                    Some(CRATES_IO_INDEX),
                    None
                ),
                (
                    "tiny",
                    "dev",
                    "~1.2",
                    Some("x86_64-unknown-linux-gnu"),
                    Some(CRATES_IO_INDEX),
                    None
                ),
            ]
        );
        let alpha = &metadata.deps[0];
        assert!(alpha.optional && !alpha.default_features);
        assert_eq!(alpha.features, ["x"]);
        let json = serde_json::to_value(&metadata).unwrap();
        assert_eq!(
            json["features"]["extra"],
            serde_json::json!(["dep:alpha", "alpha?/x"])
        );
        assert_eq!(
            json["badges"]["maintenance"]["status"],
            "actively-developed"
        );
        assert_eq!(json["readme"], "# demo\n");
        assert_eq!(json["readme_file"], "README.md");
        assert_eq!(json["rust_version"], "1.70");
        assert!(json["deps"][1].get("registry").is_none());
        let text = serde_json::to_string(&metadata).unwrap();
        assert!(text.starts_with(r#"{"name":"demo","vers":"1.0.0","deps":[{"optional":true,"default_features":false,"name":"real-alpha""#), "{text}");
    }

    #[test]
    fn platforms_print_as_cargo_prints_them() {
        assert_eq!(platform("cfg(unix)").unwrap(), "cfg(unix)");
        assert_eq!(
            platform("cfg(all(target_os=\"linux\",not(target_env = \"musl\")))").unwrap(),
            "cfg(all(target_os = \"linux\", not(target_env = \"musl\")))"
        );
        assert_eq!(
            platform("wasm32-unknown-unknown").unwrap(),
            "wasm32-unknown-unknown"
        );
        assert!(platform("cfg(all(unix)").is_err());
    }

    #[test]
    fn the_body_is_two_length_prefixed_parts_and_dl_templates_expand() {
        let metadata = new_crate(
            &crate_with("[package]\nname = \"demo\"\nversion = \"1.0.0\"\n"),
            "http://h/",
        )
        .unwrap();
        let body = publish_body(&metadata, b"CRATE").unwrap();
        let json_length = u32::from_le_bytes(body[..4].try_into().unwrap()) as usize;
        let json: Value = serde_json::from_slice(&body[4..4 + json_length]).unwrap();
        assert_eq!(json["vers"], "1.0.0");
        assert_eq!(
            &body[4 + json_length..8 + json_length],
            &5_u32.to_le_bytes()
        );
        assert_eq!(&body[8 + json_length..], b"CRATE");
        assert_eq!(
            download_url("http://h/api/v1/crates", "Demo", "1.0.0", "ab"),
            "http://h/api/v1/crates/Demo/1.0.0/download"
        );
        assert_eq!(
            download_url(
                "http://h/{lowerprefix}/{crate}-{version}.crate?{sha256-checksum}",
                "Demo",
                "1.0.0",
                "ab"
            ),
            "http://h/de/mo/Demo-1.0.0.crate?ab"
        );
    }
}
