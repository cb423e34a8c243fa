//! PyPI upload as twine 7 does it (docs/protocol-notes.md): one multipart POST per file to
//! the upload URL with core-metadata fields, `sha256_digest` and `blake2_256_digest`. Before
//! that the project's simple page is read and `#sha256=` compared; afterwards the file is
//! fetched back from the simple page's link.

use blake2::Digest as _;
use reqwest::Method;

use super::pack::core_metadata;
use super::restore::{index_url, parse_project_page};
use super::{DistributionFile, normalize_name};
use crate::ecosystem::publish::{
    FilePublishing, FileReport, Multipart, Outcome, PublishError, PublishFile, PublishedFile,
    Session, Target, Upload, check_read_back, join,
};
use crate::secret::SafeUrl;

const SIMPLE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";

/// Core-metadata headers as `(field, value)` pairs (continuation lines joined; the body is
/// the description).
#[must_use]
pub fn metadata_fields(text: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut lines = text.split('\n');
    for line in lines.by_ref() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            fields.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let body: Vec<&str> = lines.collect();
    let body = body.join("\n");
    if !body.trim().is_empty() {
        fields.push(("Description".to_owned(), body));
    }
    fields
}

/// Map a metadata header to twine's form field name.
fn form_name(header: &str) -> String {
    match header {
        "Classifier" => "classifiers".to_owned(),
        "Metadata-Version" => "metadata_version".to_owned(),
        "Home-page" => "home_page".to_owned(),
        "Project-URL" => "project_urls".to_owned(),
        "Platform" => "platform".to_owned(),
        other => other.to_ascii_lowercase().replace('-', "_"),
    }
}

/// Publish one wheel or sdist.
///
/// # Errors
/// [`PublishError`].
pub async fn publish(session: &Session, upload: &Upload) -> Result<PublishedFile, PublishError> {
    let metadata = core_metadata(&upload.file_name, &upload.bytes).map_err(|message| {
        PublishError::Invalid(format!(
            "`{}`: no core metadata: {message}",
            upload.file_name
        ))
    })?;
    let fields = metadata_fields(&metadata);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    };
    let (Some(name), Some(version)) = (field("Name"), field("Version")) else {
        return Err(PublishError::Invalid(format!(
            "`{}`: the metadata has no `Name:` and `Version:`",
            upload.file_name
        )));
    };
    let distribution = DistributionFile::parse(&upload.file_name)
        .map_err(|error| PublishError::Invalid(error.to_string()))?;
    let (filetype, pyversion) = match &distribution {
        DistributionFile::Wheel { python, .. } => ("bdist_wheel", python.clone()),
        DistributionFile::Sdist { .. } => ("sdist", "source".to_owned()),
    };
    let index = SafeUrl::from(index_url(session.endpoint.expose()));
    let page_url = join(&index, &format!("{}/", normalize_name(&name)))?;
    let page = session.get_optional(&page_url, Some(SIMPLE_ACCEPT)).await?;
    let listed = |body: &[u8]| {
        let json = serde_json::from_slice::<serde_json::Value>(body).is_ok();
        parse_project_page(page_url.expose(), body, json)
            .into_iter()
            .find(|file| file.filename == upload.file_name)
    };
    if let Some(found) = page.as_deref().and_then(listed) {
        let remote = if let Some(digest) = &found.sha256 {
            hex::encode(&digest.bytes)
        } else {
            let url = SafeUrl::from(found.url.clone());
            crate::archive::Digests::of(&session.get(&url).await?).sha256
        };
        if remote == upload.digests.sha256 {
            return Ok(PublishedFile::new(
                FileReport::new(upload, found.url.as_ref(), Outcome::AlreadyPublished),
                name,
                version,
            ));
        }
        return Err(PublishError::DigestMismatch {
            file: upload.file_name.clone(),
            package: name,
            version,
            existing: format!("sha256:{remote}"),
            local: format!("sha256:{}", upload.digests.sha256),
        });
    }
    if session.dry_run {
        return Ok(PublishedFile::new(
            FileReport::new(upload, &session.endpoint.redacted(), Outcome::WouldPublish),
            name,
            version,
        ));
    }
    let mut form = Multipart::new();
    form.text(":action", "file_upload");
    form.text("protocol_version", "1");
    for (key, value) in &fields {
        if key.eq_ignore_ascii_case("Description") || key.eq_ignore_ascii_case("License-File") {
            continue;
        }
        form.text(&form_name(key), value);
    }
    if let Some(description) = field("Description") {
        form.text("description", &description);
    }
    form.text("filetype", filetype);
    form.text("pyversion", &pyversion);
    form.text("sha256_digest", &upload.digests.sha256);
    form.text("md5_digest", &upload.digests.md5);
    form.text(
        "blake2_256_digest",
        &hex::encode(blake2::Blake2b::<blake2::digest::consts::U32>::digest(
            &upload.bytes,
        )),
    );
    form.file("content", &upload.file_name, &upload.bytes);
    let (content_type, body) = form.finish();
    let auth = session.auth.clone();
    let sent = session
        .client
        .send(Method::POST, &session.endpoint, |request| {
            auth.apply(request)
                .header(reqwest::header::CONTENT_TYPE, &content_type)
                .body(body.clone())
        })
        .await;
    if let Err(error) = sent {
        // A retried POST whose first attempt landed is refused as a duplicate: what matters
        // is whether the repository now has these bytes.
        let landed = session
            .get_optional(&page_url, Some(SIMPLE_ACCEPT))
            .await?
            .as_deref()
            .and_then(listed)
            .is_some_and(|file| {
                file.sha256
                    .is_some_and(|digest| hex::encode(&digest.bytes) == upload.digests.sha256)
            });
        if !landed {
            return Err(PublishError::http(format!("upload `{}`", upload.file_name))(error));
        }
    }
    let page = session.get(&page_url).await?;
    let found = listed(&page).ok_or_else(|| {
        PublishError::Invalid(format!(
            "`{}` is not on {} after the upload",
            upload.file_name,
            page_url.redacted()
        ))
    })?;
    let url = SafeUrl::from(found.url.clone());
    let read_back = session.get(&url).await?;
    check_read_back(upload, &url, &read_back)?;
    Ok(PublishedFile::new(
        FileReport::new(upload, &url.redacted(), Outcome::Published),
        name,
        version,
    ))
}

impl PublishFile for super::Pypi {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Pypi
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

    #[test]
    fn metadata_headers_repeat_and_the_body_is_the_description() {
        let fields = metadata_fields(
            "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nClassifier: A\nClassifier: B\nLicense: MIT\n  more\n\n# Demo\ntext\n",
        );
        assert_eq!(
            fields.iter().filter(|(key, _)| key == "Classifier").count(),
            2
        );
        assert!(fields.contains(&("License".to_owned(), "MIT\nmore".to_owned())));
        assert_eq!(fields.last().unwrap().1, "# Demo\ntext\n");
        assert_eq!(form_name("Requires-Python"), "requires_python");
        assert_eq!(form_name("Classifier"), "classifiers");
    }
}
