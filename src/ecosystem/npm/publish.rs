//! `npm publish` without npm: read the packument, compare `dist.integrity` when the version
//! exists, else PUT the packument with the tarball as a base64 attachment (PROTOCOLS.md §2.2),
//! then fetch `dist.tarball` back and compare.

#![expect(
    clippy::result_large_err,
    reason = "PublishError holds HttpError by value so the exit-code classifier finds it in the chain"
)]

use std::io::Read as _;

use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};

use crate::ecosystem::publish::{
    FilePublishing, FileReport, Outcome, PublishError, PublishFile, PublishedFile, Session, Target,
    Upload, check_read_back,
};
use crate::secret::SafeUrl;

/// npm options.
#[derive(Debug, Clone, Default)]
pub struct NpmOptions {
    /// Dist-tag (default `latest`).
    pub tag: Option<String>,
    /// `public` / `restricted` for scoped packages.
    pub access: Option<String>,
}

/// `package/package.json` from an npm tarball.
///
/// # Errors
/// When the tarball has none or it is not JSON.
pub fn tarball_manifest(bytes: &[u8]) -> Result<Value, PublishError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let invalid = |message: String| PublishError::Invalid(format!("the npm tarball: {message}"));
    for entry in archive
        .entries()
        .map_err(|error| invalid(error.to_string()))?
    {
        let mut entry = entry.map_err(|error| invalid(error.to_string()))?;
        let path = entry
            .path()
            .map_err(|error| invalid(error.to_string()))?
            .to_string_lossy()
            .into_owned();
        if path == "package/package.json" {
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|error| invalid(error.to_string()))?;
            return serde_json::from_str(&text)
                .map_err(|error| invalid(format!("package.json: {error}")));
        }
    }
    Err(invalid("no `package/package.json`".to_owned()))
}

/// SRI sha512 of bytes.
#[must_use]
pub fn integrity(upload: &Upload) -> String {
    let raw = hex::decode(&upload.digests.sha512).unwrap_or_default();
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn escaped_name(name: &str) -> String {
    name.replace('/', "%2f")
}

/// Publish one npm tarball.
///
/// # Errors
/// [`PublishError`].
pub async fn publish(
    session: &Session,
    upload: &Upload,
    options: &NpmOptions,
) -> Result<PublishedFile, PublishError> {
    let manifest = tarball_manifest(&upload.bytes)?;
    let name = manifest["name"]
        .as_str()
        .ok_or_else(|| PublishError::Invalid("package.json has no `name`".to_owned()))?
        .to_owned();
    let version = manifest["version"]
        .as_str()
        .ok_or_else(|| PublishError::Invalid("package.json has no `version`".to_owned()))?
        .to_owned();
    let packument_url = session.join(&escaped_name(&name))?;
    let local = integrity(upload);
    let existing = session
        .get_optional(&packument_url, Some("application/json"))
        .await?;
    let existing: Option<Value> = existing.and_then(|body| serde_json::from_slice(&body).ok());
    if let Some(found) = existing
        .as_ref()
        .and_then(|packument| packument["versions"].get(&version))
    {
        let remote = found["dist"]["integrity"].as_str().unwrap_or_default();
        if remote == local {
            return Ok(PublishedFile::new(
                FileReport::new(upload, &packument_url.redacted(), Outcome::AlreadyPublished),
                name,
                version,
            ));
        }
        return Err(PublishError::DigestMismatch {
            file: upload.file_name.clone(),
            package: name,
            version,
            existing: if remote.is_empty() {
                format!("shasum {}", found["dist"]["shasum"].as_str().unwrap_or("?"))
            } else {
                remote.to_owned()
            },
            local,
        });
    }
    if session.dry_run {
        return Ok(PublishedFile::new(
            FileReport::new(upload, &packument_url.redacted(), Outcome::WouldPublish),
            name,
            version,
        ));
    }
    let attachment = format!("{name}-{version}.tgz");
    let tarball_url = session.join(&format!("{name}/-/{attachment}"))?;
    let mut version_manifest = manifest.clone();
    version_manifest["_id"] = json!(format!("{name}@{version}"));
    version_manifest["dist"] = json!({
        "integrity": local.clone(),
        "shasum": upload.digests.sha1,
        "tarball": tarball_url.expose().as_str(),
    });
    let tag = options.tag.clone().unwrap_or_else(|| "latest".to_owned());
    let body = json!({
        "_id": name,
        "name": name,
        "description": manifest["description"],
        "dist-tags": { tag: version },
        "versions": { version.clone(): version_manifest },
        "access": options.access,
        "_attachments": { attachment: {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(&upload.bytes),
            "length": upload.bytes.len(),
        }},
    });
    let body = serde_json::to_vec(&body)
        .map_err(|error| PublishError::Invalid(format!("packument: {error}")))?;
    let auth = session.auth.clone();
    let sent = session
        .client
        .send(Method::PUT, &packument_url, |request| {
            auth.apply(request)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("npm-command", "publish")
                .body(body.clone())
        })
        .await;
    if let Err(error) = sent {
        // A retried PUT whose first attempt landed is refused as a republish: what matters
        // is whether the registry now has these bytes.
        let landed = session
            .get_optional(&packument_url, Some("application/json"))
            .await?
            .and_then(|body| serde_json::from_slice::<Value>(&body).ok())
            .is_some_and(|packument| {
                packument["versions"][&version]["dist"]["integrity"].as_str()
                    == Some(local.as_str())
            });
        if !landed {
            return Err(PublishError::http(format!("publish {name}@{version}"))(
                error,
            ));
        }
    }
    let packument = session.get(&packument_url).await?;
    let packument: Value = serde_json::from_slice(&packument)
        .map_err(|error| PublishError::Invalid(format!("the packument read back: {error}")))?;
    let tarball = packument["versions"][&version]["dist"]["tarball"]
        .as_str()
        .and_then(|text| SafeUrl::parse(text).ok())
        .ok_or_else(|| {
            PublishError::Invalid(format!(
                "{name}@{version} is not in the packument after publishing"
            ))
        })?;
    let read_back = session.get(&tarball).await?;
    check_read_back(upload, &tarball, &read_back)?;
    Ok(PublishedFile::new(
        FileReport::new(upload, &tarball.redacted(), Outcome::Published),
        name,
        version,
    ))
}

impl PublishFile for super::Npm {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Npm
    }

    fn publish_file<'a>(
        &'a self,
        target: &'a Target,
        session: &'a Session,
        upload: &'a Upload,
    ) -> FilePublishing<'a> {
        Box::pin(async move {
            let options = NpmOptions {
                tag: target.tag.clone(),
                access: target.access.clone(),
            };
            publish(session, upload, &options).await
        })
    }
}
