//! Generic packages: CodeArtifact PublishPackageVersion (every asset `unfinished`, the last
//! one finishes the version; a version left `Unfinished` by an earlier run gets its missing
//! assets and is finished) or a plain HTTP PUT target (`{url}{namespace}/{name}/{version}/{file}`).

use reqwest::Method;

use crate::archive::Digests;
use crate::ecosystem::publish::{
    FileReport, Outcome, PublishError, Session, Upload, check_read_back, is_provenance,
    kept_provenance,
};
use crate::repository::codeartifact::{CodeArtifact, GenericVersion};

fn mismatch(version: &GenericVersion, upload: &Upload, existing: &str) -> PublishError {
    PublishError::DigestMismatch {
        file: upload.file_name.clone(),
        package: format!("{}/{}", version.namespace, version.package),
        version: version.version.clone(),
        existing: format!("sha256:{existing}"),
        local: format!("sha256:{}", upload.digests.sha256),
    }
}

/// Publish assets to a CodeArtifact generic version.
///
/// # Errors
/// [`PublishError`].
pub async fn publish_codeartifact(
    client: &CodeArtifact,
    version: &GenericVersion,
    uploads: &[Upload],
    dry_run: bool,
) -> Result<Vec<FileReport>, PublishError> {
    let location = |upload: &Upload| {
        format!(
            "generic {}/{}@{}/{}",
            version.namespace, version.package, version.version, upload.file_name
        )
    };
    let (status, existing) = client
        .generic_version(version)
        .await?
        .unwrap_or_else(|| (String::new(), Vec::new()));
    let mut reports = Vec::new();
    let mut missing = Vec::new();
    for upload in uploads {
        match existing.iter().find(|asset| asset.name == upload.file_name) {
            Some(asset) if asset.sha256 == upload.digests.sha256 => {
                reports.push(FileReport::new(
                    upload,
                    &location(upload),
                    Outcome::AlreadyPublished,
                ));
            }
            Some(asset) => {
                if is_provenance(upload) {
                    let body = client.generic_asset(version, &upload.file_name).await?;
                    if let Some(report) = kept_provenance(upload, &body, &location(upload)) {
                        reports.push(report);
                        continue;
                    }
                }
                return Err(mismatch(version, upload, &asset.sha256));
            }
            None => missing.push(upload),
        }
    }
    if !missing.is_empty() && status == "Published" {
        return Err(PublishError::Invalid(format!(
            "{}/{} {} is already published without `{}`; a published version takes no new assets: publish a new version",
            version.namespace, version.package, version.version, missing[0].file_name
        )));
    }
    if dry_run {
        for upload in &missing {
            reports.push(FileReport::new(
                upload,
                &location(upload),
                Outcome::WouldPublish,
            ));
        }
        return Ok(reports);
    }
    for upload in &missing {
        client
            .publish_generic_asset(
                version,
                &upload.file_name,
                upload.bytes.clone(),
                &upload.digests.sha256,
                true,
            )
            .await?;
    }
    if status != "Published" {
        client.finish_generic_version(version).await?;
    }
    for upload in &missing {
        let body = client.generic_asset(version, &upload.file_name).await?;
        let actual = Digests::of(&body).sha256;
        if actual != upload.digests.sha256 {
            return Err(PublishError::ReadBack {
                file: upload.file_name.clone(),
                url: location(upload),
                expected: format!("sha256:{}", upload.digests.sha256),
                actual: format!("sha256:{actual}"),
            });
        }
        reports.push(FileReport::new(
            upload,
            &location(upload),
            Outcome::Published,
        ));
    }
    Ok(reports)
}

/// Publish files with plain HTTP PUTs under `{endpoint}{namespace}/{package}/{version}/`.
///
/// # Errors
/// [`PublishError`].
pub async fn publish_http(
    session: &Session,
    version: &GenericVersion,
    uploads: &[Upload],
) -> Result<Vec<FileReport>, PublishError> {
    let mut reports = Vec::new();
    for upload in uploads {
        let url = session.join(&format!(
            "{}/{}/{}/{}",
            version.namespace, version.package, version.version, upload.file_name
        ))?;
        if let Some(body) = session.get_optional(&url, None).await? {
            let actual = Digests::of(&body).sha256;
            if actual == upload.digests.sha256 {
                reports.push(FileReport::new(
                    upload,
                    &url.redacted(),
                    Outcome::AlreadyPublished,
                ));
                continue;
            }
            if let Some(report) = kept_provenance(upload, &body, &url.redacted()) {
                reports.push(report);
                continue;
            }
            return Err(mismatch(version, upload, &actual));
        }
        if session.dry_run {
            reports.push(FileReport::new(
                upload,
                &url.redacted(),
                Outcome::WouldPublish,
            ));
            continue;
        }
        let auth = session.auth.clone();
        let bytes = upload.bytes.clone();
        let sha256 = upload.digests.sha256.clone();
        session
            .client
            .send(Method::PUT, &url, |request| {
                auth.apply(request)
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .header("x-checksum-sha256", &sha256)
                    .body(bytes.clone())
            })
            .await
            .map_err(PublishError::http(format!("upload `{}`", upload.file_name)))?;
        let body = session.get(&url).await?;
        check_read_back(upload, &url, &body)?;
        reports.push(FileReport::new(upload, &url.redacted(), Outcome::Published));
    }
    Ok(reports)
}

impl crate::ecosystem::publish::Publish for super::Generic {
    /// Every file is an asset of one package version.
    fn packages(
        &self,
        files: crate::ecosystem::publish::Files,
    ) -> anyhow::Result<Vec<crate::ecosystem::publish::Package>> {
        Ok(vec![crate::ecosystem::publish::Package {
            namespace: None,
            name: files.name,
            version: files.version,
            uploads: files.uploads,
            provenance: files.provenance,
        }])
    }

    /// An asset of the version, like the other files.
    fn provenance_apart(&self) -> bool {
        false
    }

    fn publish<'a>(
        &'a self,
        target: &'a crate::ecosystem::publish::Target,
        package: crate::ecosystem::publish::Package,
    ) -> crate::ecosystem::publish::Publishing<'a> {
        Box::pin(async move {
            let (Some(name), Some(version)) = (package.name, package.version) else {
                anyhow::bail!(crate::diagnostics::HintedError::new(
                    "a generic publish needs a name and a version",
                    "pass `--name` and `--version` (and `--namespace`)"
                ));
            };
            let version = GenericVersion {
                namespace: package
                    .namespace
                    .or_else(|| target.namespace.clone())
                    .unwrap_or_else(|| name.clone()),
                package: name,
                version,
            };
            let mut uploads = package.uploads;
            uploads.extend(package.provenance);
            let files = if let Some(client) = &target.codeartifact {
                publish_codeartifact(client, &version, &uploads, target.session_base.dry_run)
                    .await?
            } else {
                let session = target.session(crate::format::Format::Generic).await?;
                publish_http(&session, &version, &uploads).await?
            };
            Ok(crate::ecosystem::publish::Published {
                package: format!("{}/{}", version.namespace, version.package),
                version: version.version,
                files,
            })
        })
    }
}
