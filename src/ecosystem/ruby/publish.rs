//! `gem push` without gem: `POST {endpoint}api/v1/gems` with the `.gem` as the body and
//! the API key as the whole `Authorization` value, as RubyGems sends it (`Bearer <token>`
//! on CodeArtifact, the token itself elsewhere, as `lading login --tool gem` configures
//! `gem`). Reads go as bundler's do (HTTP Basic).
//!
//! Before pushing, the compact index (`info/<gem>`) says whether the version and platform
//! exist: the same `checksum:` is already published, another is a conflict. After pushing,
//! the info line must carry the `.gem`'s sha256 and `gems/<file>.gem` must be the same
//! bytes.

use reqwest::Method;

use super::compact_index::{InfoLine, parse_info};
use super::gem::GemSpec;
use crate::ecosystem::publish::{
    Auth, FilePublishing, FileReport, Outcome, PublishError, PublishFile, PublishedFile, Session,
    Target, Upload, check_read_back,
};
use crate::secret::{SafeUrl, Secret};

/// The info line of `spec`'s version and platform, and the info file's URL.
async fn info_line(
    session: &Session,
    spec: &GemSpec,
) -> Result<(Option<InfoLine>, SafeUrl), PublishError> {
    let url = session.join(&format!("info/{}", spec.name))?;
    let Some(body) = session.get_optional(&url, None).await? else {
        return Ok((None, url));
    };
    let lines = parse_info(&String::from_utf8_lossy(&body))
        .map_err(|message| PublishError::Invalid(format!("{}: {message}", url.redacted())))?;
    let found = lines
        .into_iter()
        .find(|line| line.version == spec.version && line.platform == spec.platform);
    Ok((found, url))
}

/// The sha256 the repository has for `line`: its `checksum:`, else the gem's own.
async fn remote_sha256(
    session: &Session,
    name: &str,
    line: &InfoLine,
) -> Result<String, PublishError> {
    if let Some(sha256) = &line.sha256 {
        return Ok(sha256.clone());
    }
    let url = session.join(&format!("gems/{}", line.file_name(name)))?;
    Ok(crate::archive::Digests::of(&session.get(&url).await?).sha256)
}

/// Push one `.gem`; `api_key` is the `Authorization` value `gem push` sends.
///
/// # Errors
/// [`PublishError`].
pub async fn publish(
    session: &Session,
    api_key: &Auth,
    upload: &Upload,
) -> Result<PublishedFile, PublishError> {
    let spec = GemSpec::from_gem(upload.bytes.as_slice())
        .map_err(|error| PublishError::Invalid(format!("`{}`: {error}", upload.file_name)))?;
    let published = |report| PublishedFile {
        report,
        package: spec.name.clone(),
        version: spec.version.clone(),
    };
    let local = upload.digests.sha256.clone();
    let (existing, info_url) = info_line(session, &spec).await?;
    if let Some(line) = existing {
        let remote = remote_sha256(session, &spec.name, &line).await?;
        if remote == local {
            return Ok(published(FileReport::new(
                upload,
                &info_url.redacted(),
                Outcome::AlreadyPublished,
            )));
        }
        return Err(PublishError::DigestMismatch {
            file: upload.file_name.clone(),
            package: spec.name.clone(),
            version: spec.version.clone(),
            existing: format!("sha256:{remote}"),
            local: format!("sha256:{local}"),
        });
    }
    let push_url = session.join("api/v1/gems")?;
    if session.dry_run {
        return Ok(published(FileReport::new(
            upload,
            &push_url.redacted(),
            Outcome::WouldPublish,
        )));
    }
    let api_key = api_key.clone();
    let sent = session
        .client
        .send(Method::POST, &push_url, |request| {
            api_key
                .apply(request)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(upload.bytes.clone())
        })
        .await;
    if let Err(error) = sent {
        // A retried push whose first attempt landed is refused as a repush (409): what
        // matters is whether the index now lists these bytes.
        let (landed, _) = info_line(session, &spec).await?;
        let landed = match landed {
            Some(line) => remote_sha256(session, &spec.name, &line).await? == local,
            None => false,
        };
        if !landed {
            return Err(PublishError::http(format!("push `{}`", upload.file_name))(
                error,
            ));
        }
    }
    let (line, info_url) = info_line(session, &spec).await?;
    let line = line.ok_or_else(|| {
        PublishError::Invalid(format!(
            "{} is not in {} after the push",
            spec.full_name(),
            info_url.redacted()
        ))
    })?;
    if let Some(listed) = line.sha256.as_deref().filter(|listed| *listed != local) {
        return Err(PublishError::ReadBack {
            file: upload.file_name.clone(),
            url: info_url.redacted(),
            expected: format!("sha256:{local}"),
            actual: format!("sha256:{listed}"),
        });
    }
    let download = session.join(&format!("gems/{}", spec.file_name()))?;
    let read_back = session.get(&download).await?;
    check_read_back(upload, &download, &read_back)?;
    Ok(published(FileReport::new(
        upload,
        &download.redacted(),
        Outcome::Published,
    )))
}

/// The `Authorization` value `gem push` sends: the API key `lading login --tool gem`
/// writes (`Bearer <token>` for CodeArtifact, the token itself elsewhere).
fn api_key(target: &Target, session: &Session) -> Auth {
    match session.auth.secret() {
        Some(token) if target.codeartifact.is_some() => {
            Auth::Raw(Secret::new(format!("Bearer {}", token.expose())))
        }
        Some(token) => Auth::Raw(token.clone()),
        None => Auth::None,
    }
}

impl PublishFile for super::Ruby {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Ruby
    }

    fn publish_file<'a>(
        &'a self,
        target: &'a Target,
        session: &'a Session,
        upload: &'a Upload,
    ) -> FilePublishing<'a> {
        Box::pin(async move { publish(session, &api_key(target, session), upload).await })
    }
}
