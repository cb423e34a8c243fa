//! NuGet push: v3 (`PackagePublish/2.0.0` from the service index, existing packages read from
//! the flat container) or, when the URL has no service index, a v2 feed (`PUT
//! {feed}api/v2/package/`, existing packages found through `FindPackagesById()`). The
//! package goes as the first multipart part named `package`, with `X-NuGet-ApiKey` (and
//! Basic or Bearer when the repository wants it).

#![expect(
    clippy::result_large_err,
    reason = "PublishError holds HttpError by value so the exit-code classifier finds it in the chain"
)]

use reqwest::Method;
use serde_json::Value;

use super::read_nupkg;
use super::restore::service_index_url;
use crate::archive::Digests;
use crate::ecosystem::publish::{
    FilePublishing, FileReport, Multipart, Outcome, PublishError, PublishFile, PublishedFile,
    Session, Target, Upload, check_read_back, join,
};
use crate::secret::SafeUrl;

/// Where to push and where to read packages back.
#[derive(Debug, Clone)]
enum Feed {
    V3 { publish: SafeUrl, base: SafeUrl },
    V2 { feed: SafeUrl },
}

async fn discover(session: &Session) -> Result<Feed, PublishError> {
    let index = SafeUrl::parse(&service_index_url(session.endpoint.expose()))
        .map_err(|error| PublishError::Invalid(error.to_string()))?;
    // No service index (404, or 405 from a v2-only server such as pynuget): a v2 feed.
    let body = match session.get_optional(&index, None).await {
        Ok(Some(body)) => body,
        Ok(None) => {
            return Ok(Feed::V2 {
                feed: session.endpoint.clone(),
            });
        }
        Err(PublishError::Http { source, .. })
            if source
                .status()
                .is_some_and(|status| status.is_client_error()) =>
        {
            return Ok(Feed::V2 {
                feed: session.endpoint.clone(),
            });
        }
        Err(error) => return Err(error),
    };
    let Ok(document) = serde_json::from_slice::<Value>(&body) else {
        return Ok(Feed::V2 {
            feed: session.endpoint.clone(),
        });
    };
    let index_document =
        super::service_index::ServiceIndex::from_document(&document).unwrap_or_default();
    let find = |kind: &str| {
        index_document
            .resource(&[kind])
            .and_then(|text| SafeUrl::parse(text).ok())
    };
    match (find("PackagePublish"), find("PackageBaseAddress")) {
        (Some(publish), Some(base)) => Ok(Feed::V3 { publish, base }),
        _ => Err(PublishError::Invalid(format!(
            "{} lists no PackagePublish/PackageBaseAddress resource",
            index.redacted()
        ))),
    }
}

fn content_src(element: &quick_xml::events::BytesStart<'_>) -> Option<String> {
    element
        .attributes()
        .filter_map(Result::ok)
        .find(|attribute| attribute.key.local_name().as_ref() == b"src")
        .map(|attribute| String::from_utf8_lossy(&attribute.value).into_owned())
}

/// `(version, content URL)` of every entry of a v2 OData feed.
#[must_use]
pub fn v2_entries(text: &str) -> Vec<(String, String)> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut entries = Vec::new();
    let (mut version, mut content) = (None::<String>, None::<String>);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(start)) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if name == "entry" {
                    version = None;
                    content = None;
                }
                if name == "content" {
                    content = content_src(&start).or(content);
                }
                path.push(name);
            }
            Ok(quick_xml::events::Event::Empty(empty)) => {
                if empty.local_name().as_ref() == b"content" {
                    content = content_src(&empty).or(content);
                }
            }
            Ok(quick_xml::events::Event::End(end)) => {
                if end.local_name().as_ref() == b"entry"
                    && let (Some(version), Some(content)) = (version.take(), content.take())
                {
                    entries.push((version, content));
                }
                path.pop();
            }
            Ok(quick_xml::events::Event::Text(text)) => {
                if path.last().is_some_and(|name| name == "Version") {
                    version = Some(String::from_utf8_lossy(text.as_ref()).trim().to_owned());
                }
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    entries
}

/// The URL the repository serves this version's `.nupkg` at, if it has it.
async fn existing(
    session: &Session,
    feed: &Feed,
    id: &str,
    lower_id: &str,
    version: &str,
) -> Result<(Option<bytes::Bytes>, SafeUrl), PublishError> {
    match feed {
        Feed::V3 { base, .. } => {
            let url = join(
                base,
                &format!("{lower_id}/{version}/{lower_id}.{version}.nupkg"),
            )?;
            Ok((session.get_optional(&url, None).await?, url))
        }
        Feed::V2 { feed } => {
            let query = join(feed, &format!("FindPackagesById()?id='{id}'"))?;
            let text = session
                .get_optional(&query, None)
                .await?
                .map(|body| String::from_utf8_lossy(&body).into_owned())
                .unwrap_or_default();
            let found = v2_entries(&text)
                .into_iter()
                .find(|(listed, _)| listed.eq_ignore_ascii_case(version));
            match found {
                Some((_, content)) => {
                    let url = SafeUrl::parse(&content)
                        .or_else(|_| join(feed, content.trim_start_matches('/')))
                        .map_err(|error| PublishError::Invalid(error.to_string()))?;
                    Ok((Some(session.get(&url).await?), url))
                }
                None => Ok((None, query)),
            }
        }
    }
}

/// Push one `.nupkg`.
///
/// # Errors
/// [`PublishError`].
pub async fn publish(session: &Session, upload: &Upload) -> Result<PublishedFile, PublishError> {
    let manifest = read_nupkg(&upload.bytes)
        .map_err(|error| PublishError::Invalid(format!("`{}`: {error}", upload.file_name)))?;
    let id = manifest.nuspec.id.clone();
    let lower_id = manifest.lower_id();
    let version = manifest.version.key();
    let feed = discover(session).await?;
    let (found, url) = existing(session, &feed, &id, &lower_id, &version).await?;
    if let Some(body) = found {
        let remote = Digests::of(&body).sha512;
        if remote == upload.digests.sha512 {
            return Ok(PublishedFile::new(
                FileReport::new(upload, &url.redacted(), Outcome::AlreadyPublished),
                id,
                version,
            ));
        }
        return Err(PublishError::DigestMismatch {
            file: upload.file_name.clone(),
            package: id,
            version,
            existing: format!("sha512:{remote}"),
            local: format!("sha512:{}", upload.digests.sha512),
        });
    }
    let push = match &feed {
        Feed::V3 { publish, .. } => publish.clone(),
        Feed::V2 { feed } => join(feed, "api/v2/package/")?,
    };
    if session.dry_run {
        return Ok(PublishedFile::new(
            FileReport::new(upload, &push.redacted(), Outcome::WouldPublish),
            id,
            version,
        ));
    }
    let mut form = Multipart::new();
    form.file("package", "package.nupkg", &upload.bytes);
    let (content_type, body) = form.finish();
    let auth = session.auth.clone();
    let sent = session
        .client
        .send(Method::PUT, &push, |request| {
            let request = match auth.secret() {
                Some(key) => auth.apply(request).header("X-NuGet-ApiKey", key.expose()),
                None => request,
            };
            request
                .header(reqwest::header::CONTENT_TYPE, &content_type)
                .body(body.clone())
        })
        .await;
    if let Err(error) = sent {
        // A retried push whose first attempt landed gets 409: check what landed.
        let landed = existing(session, &feed, &id, &lower_id, &version)
            .await?
            .0
            .is_some_and(|body| Digests::of(&body).sha512 == upload.digests.sha512);
        if !landed {
            return Err(PublishError::http(format!("push `{}`", upload.file_name))(
                error,
            ));
        }
    }
    let (body, url) = existing(session, &feed, &id, &lower_id, &version).await?;
    let body = body.ok_or_else(|| {
        PublishError::Invalid(format!("{id} {version} is missing right after the push"))
    })?;
    check_read_back(upload, &url, &body)?;
    Ok(PublishedFile::new(
        FileReport::new(upload, &url.redacted(), Outcome::Published),
        id,
        version,
    ))
}

impl PublishFile for super::Nuget {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Nuget
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
    fn v2_feed_entries_give_version_and_content() {
        let text = r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:m="m" xmlns:d="d"><entry><id>x</id><content type="application/zip" src="http://h/download/Demo/1.0.0">None</content><m:properties><d:Version>1.0.0</d:Version></m:properties></entry></feed>"#;
        assert_eq!(
            v2_entries(text),
            vec![(
                "1.0.0".to_owned(),
                "http://h/download/Demo/1.0.0".to_owned()
            )]
        );
    }
}
