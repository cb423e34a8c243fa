//! Maven deploy in maven-resolver's order: every file followed by its `.sha1`/`.md5`
//! sidecars, then `maven-metadata.xml` (merged with the repository's) and its sidecars.
//! SNAPSHOT versions get a timestamped file name and a version-level metadata file.
//!
//! Existing files are found through their `.sha1` sidecar (or the file itself when the
//! sidecar is missing, e.g. after a deploy that stopped half-way): same bytes → skipped,
//! other bytes → error, missing → uploaded. Every uploaded file is read back.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use reqwest::Method;

use super::pack::{Coordinates, pom_coordinates};
use crate::archive::Digests;
use crate::ecosystem::publish::{
    FileReport, Outcome, PublishError, Session, Upload, check_read_back, is_provenance,
    kept_provenance,
};
use crate::secret::SafeUrl;

/// The versions listed in a `maven-metadata.xml`, and the snapshot build number if any.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `<versions><version>`.
    pub versions: Vec<String>,
    /// `<snapshot><buildNumber>`.
    pub build_number: Option<u32>,
    /// `<snapshot><timestamp>`.
    pub timestamp: Option<String>,
}

/// Read the parts of metadata lading merges.
#[must_use]
pub fn parse_metadata(text: &str) -> Metadata {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut metadata = Metadata::default();
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(start)) => {
                path.push(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
            }
            Ok(quick_xml::events::Event::End(_)) => {
                path.pop();
            }
            Ok(quick_xml::events::Event::Text(text)) => {
                let value = String::from_utf8_lossy(text.as_ref()).trim().to_owned();
                match path
                    .iter()
                    .rev()
                    .take(2)
                    .map(String::as_str)
                    .collect::<Vec<_>>()[..]
                {
                    ["version", "versions"] => metadata.versions.push(value),
                    ["buildNumber", "snapshot"] => metadata.build_number = value.parse().ok(),
                    ["timestamp", "snapshot"] => metadata.timestamp = Some(value),
                    _ => {}
                }
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    metadata
}

/// Artifact-level metadata listing `versions` (in order), the last as latest.
#[must_use]
pub fn artifact_metadata(coordinates: &Coordinates, versions: &[String], updated: &str) -> String {
    let latest = versions.last().cloned().unwrap_or_default();
    let release = versions
        .iter()
        .rev()
        .find(|version| !version.ends_with("-SNAPSHOT"))
        .map(|version| format!("    <release>{version}</release>\n"))
        .unwrap_or_default();
    let listed = versions.iter().fold(String::new(), |mut text, version| {
        let _ = writeln!(text, "      <version>{version}</version>");
        text
    });
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata modelVersion=\"1.1.0\">\n  <groupId>{}</groupId>\n  <artifactId>{}</artifactId>\n  <versioning>\n    <latest>{latest}</latest>\n{release}    <versions>\n{listed}    </versions>\n    <lastUpdated>{updated}</lastUpdated>\n  </versioning>\n</metadata>\n",
        coordinates.group_id, coordinates.artifact_id
    )
}

fn snapshot_metadata(
    coordinates: &Coordinates,
    timestamp: &str,
    build: u32,
    files: &[(Option<String>, String)],
    updated: &str,
) -> String {
    let base = coordinates.version.trim_end_matches("-SNAPSHOT");
    let value = format!("{base}-{timestamp}-{build}");
    let entries = files
        .iter()
        .fold(String::new(), |mut text, (classifier, extension)| {
            let classifier = classifier
                .as_ref()
                .map(|classifier| format!("<classifier>{classifier}</classifier>"))
                .unwrap_or_default();
            let _ = writeln!(text, "      <snapshotVersion>{classifier}<extension>{extension}</extension><value>{value}</value><updated>{updated}</updated></snapshotVersion>");
            text
        });
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata modelVersion=\"1.1.0\">\n  <groupId>{}</groupId>\n  <artifactId>{}</artifactId>\n  <version>{}</version>\n  <versioning>\n    <snapshot><timestamp>{timestamp}</timestamp><buildNumber>{build}</buildNumber></snapshot>\n    <lastUpdated>{updated}</lastUpdated>\n    <snapshotVersions>\n{entries}    </snapshotVersions>\n  </versioning>\n</metadata>\n",
        coordinates.group_id, coordinates.artifact_id, coordinates.version
    )
}

/// Split `{artifactId}-{version}[-{classifier}].{ext}` into classifier and extension.
fn classifier_and_extension(
    file_name: &str,
    coordinates: &Coordinates,
) -> Option<(Option<String>, String)> {
    let rest = file_name.strip_prefix(&format!(
        "{}-{}",
        coordinates.artifact_id, coordinates.version
    ))?;
    if let Some(rest) = rest.strip_prefix('-') {
        let (classifier, extension) = rest.split_once('.')?;
        Some((Some(classifier.to_owned()), extension.to_owned()))
    } else {
        Some((None, rest.strip_prefix('.')?.to_owned()))
    }
}

fn now_stamps() -> (String, String) {
    let now = time::OffsetDateTime::now_utc();
    let timestamp = format!(
        "{:04}{:02}{:02}.{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    (timestamp.clone(), timestamp.replace('.', ""))
}

async fn put(session: &Session, url: &SafeUrl, bytes: Vec<u8>) -> Result<(), PublishError> {
    let auth = session.auth.clone();
    session
        .client
        .send(Method::PUT, url, |request| {
            auth.apply(request)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes.clone())
        })
        .await
        .map(|_| ())
        .map_err(PublishError::http(format!("upload {}", url.redacted())))
}

/// Upload a file and its sidecars, then read it back.
async fn put_with_sidecars(
    session: &Session,
    url: &SafeUrl,
    bytes: &[u8],
) -> Result<(), PublishError> {
    let digests = Digests::of(bytes);
    put(session, url, bytes.to_vec()).await?;
    for (extension, digest) in [("sha1", &digests.sha1), ("md5", &digests.md5)] {
        let sidecar = SafeUrl::parse(&format!("{}.{extension}", url.expose()))
            .map_err(|error| PublishError::Invalid(error.to_string()))?;
        put(session, &sidecar, digest.clone().into_bytes()).await?;
    }
    Ok(())
}

/// What the repository has at `url`: its sha1 (from the sidecar, else the file), or `None`.
async fn existing_sha1(
    session: &Session,
    url: &SafeUrl,
) -> Result<Option<(String, bool)>, PublishError> {
    let sidecar = SafeUrl::parse(&format!("{}.sha1", url.expose()))
        .map_err(|error| PublishError::Invalid(error.to_string()))?;
    if let Some(body) = session.get_optional(&sidecar, None).await? {
        let text = String::from_utf8_lossy(&body);
        let first = text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        return Ok(Some((first, true)));
    }
    Ok(session
        .get_optional(url, None)
        .await?
        .map(|body| (Digests::of(&body).sha1, false)))
}

/// Deploy one artifact: its pom among `uploads`, and every file named after it.
///
/// # Errors
/// [`PublishError`].
pub async fn publish(
    session: &Session,
    uploads: &[Upload],
) -> Result<(Vec<FileReport>, String, String), PublishError> {
    let pom = uploads
        .iter()
        .find(|upload| is_pom(&upload.file_name))
        .ok_or_else(|| PublishError::Invalid("a Maven publish needs a `.pom` file".to_owned()))?;
    let coordinates = pom_coordinates(&String::from_utf8_lossy(&pom.bytes))
        .map_err(|message| PublishError::Invalid(format!("`{}`: {message}", pom.file_name)))?;
    let package = format!("{}:{}", coordinates.group_id, coordinates.artifact_id);
    let artifact_dir = format!(
        "{}/{}/",
        coordinates.group_id.replace('.', "/"),
        coordinates.artifact_id
    );
    let version_dir = format!("{artifact_dir}{}/", coordinates.version);
    let snapshot = coordinates.version.ends_with("-SNAPSHOT");
    let (timestamp, updated) = now_stamps();
    let version_metadata_url = session.join(&format!("{version_dir}maven-metadata.xml"))?;
    let mut files = Vec::new();
    for upload in uploads {
        let parts = classifier_and_extension(&upload.file_name, &coordinates).ok_or_else(|| {
            PublishError::Invalid(format!(
                "`{}` is not named `{}-{}[-classifier].ext`",
                upload.file_name, coordinates.artifact_id, coordinates.version
            ))
        })?;
        files.push((upload, parts));
    }
    // SNAPSHOT: compare against the newest build; a new build gets the next number.
    let (remote_name, build) = if snapshot {
        let existing = session
            .get_optional(&version_metadata_url, None)
            .await?
            .map(|body| parse_metadata(&String::from_utf8_lossy(&body)))
            .unwrap_or_default();
        let base = coordinates.version.trim_end_matches("-SNAPSHOT").to_owned();
        let latest = existing
            .timestamp
            .clone()
            .zip(existing.build_number)
            .map(|(stamp, number)| format!("{base}-{stamp}-{number}"));
        let mut same = latest.is_some();
        if let Some(latest) = &latest {
            for (upload, _) in &files {
                let name = upload.file_name.replacen(&coordinates.version, latest, 1);
                let url = session.join(&format!("{version_dir}{name}"))?;
                if existing_sha1(session, &url).await?.map(|(sha1, _)| sha1)
                    != Some(upload.digests.sha1.clone())
                {
                    same = false;
                }
            }
        }
        if same {
            let latest = latest.unwrap_or_default();
            return Ok((
                files
                    .iter()
                    .map(|(upload, _)| {
                        let name = upload.file_name.replacen(&coordinates.version, &latest, 1);
                        FileReport::new(
                            upload,
                            &format!("{version_dir}{name}"),
                            Outcome::AlreadyPublished,
                        )
                    })
                    .collect(),
                package,
                coordinates.version.clone(),
            ));
        }
        let build = existing.build_number.unwrap_or(0) + 1;
        (format!("{base}-{timestamp}-{build}"), build)
    } else {
        (coordinates.version.clone(), 0)
    };
    let mut reports = Vec::new();
    let mut pending = Vec::new();
    for (upload, _) in &files {
        let name = upload
            .file_name
            .replacen(&coordinates.version, &remote_name, 1);
        let url = session.join(&format!("{version_dir}{name}"))?;
        if snapshot {
            pending.push((*upload, url, false));
            continue;
        }
        match existing_sha1(session, &url).await? {
            Some((sha1, has_sidecar)) if sha1 == upload.digests.sha1 => {
                if has_sidecar {
                    reports.push(FileReport::new(
                        upload,
                        &url.redacted(),
                        Outcome::AlreadyPublished,
                    ));
                } else {
                    // The file landed, its sidecars did not: finish it.
                    pending.push((*upload, url, true));
                }
            }
            Some((sha1, _)) => {
                if is_provenance(upload)
                    && let Some(body) = session.get_optional(&url, None).await?
                    && let Some(report) = kept_provenance(upload, &body, &url.redacted())
                {
                    reports.push(report);
                    continue;
                }
                return Err(PublishError::DigestMismatch {
                    file: upload.file_name.clone(),
                    package,
                    version: coordinates.version.clone(),
                    existing: format!("sha1:{sha1}"),
                    local: format!("sha1:{}", upload.digests.sha1),
                });
            }
            None => pending.push((*upload, url, false)),
        }
    }
    let artifact_metadata_url = session.join(&format!("{artifact_dir}maven-metadata.xml"))?;
    let existing_versions = session
        .get_optional(&artifact_metadata_url, None)
        .await?
        .map(|body| parse_metadata(&String::from_utf8_lossy(&body)).versions)
        .unwrap_or_default();
    let listed = existing_versions.contains(&coordinates.version);
    if pending.is_empty() && listed {
        return Ok((reports, package, coordinates.version.clone()));
    }
    if session.dry_run {
        for (upload, url, _) in &pending {
            reports.push(FileReport::new(
                upload,
                &url.redacted(),
                Outcome::WouldPublish,
            ));
        }
        return Ok((reports, package, coordinates.version.clone()));
    }
    for (upload, url, only_sidecars) in &pending {
        if *only_sidecars {
            for (extension, digest) in
                [("sha1", &upload.digests.sha1), ("md5", &upload.digests.md5)]
            {
                let sidecar = SafeUrl::parse(&format!("{}.{extension}", url.expose()))
                    .map_err(|error| PublishError::Invalid(error.to_string()))?;
                put(session, &sidecar, digest.clone().into_bytes()).await?;
            }
        } else {
            put_with_sidecars(session, url, &upload.bytes).await?;
        }
    }
    if snapshot {
        let entries: Vec<(Option<String>, String)> =
            files.iter().map(|(_, parts)| parts.clone()).collect();
        let text = snapshot_metadata(&coordinates, &timestamp, build, &entries, &updated);
        put_with_sidecars(session, &version_metadata_url, text.as_bytes()).await?;
    }
    let mut versions: Vec<String> = existing_versions;
    if !listed {
        versions.push(coordinates.version.clone());
    }
    let mut seen = BTreeSet::new();
    versions.retain(|version| seen.insert(version.clone()));
    let text = artifact_metadata(&coordinates, &versions, &updated);
    put_with_sidecars(session, &artifact_metadata_url, text.as_bytes()).await?;
    for (upload, url, _) in &pending {
        let body = session.get(url).await?;
        check_read_back(upload, url, &body)?;
        reports.push(FileReport::new(upload, &url.redacted(), Outcome::Published));
    }
    Ok((reports, package, coordinates.version.clone()))
}

/// Whether `file_name` is a POM (`.pom`, any case).
pub(crate) fn is_pom(file_name: &str) -> bool {
    std::path::Path::new(file_name)
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("pom"))
}

impl crate::ecosystem::publish::Publish for super::Maven {
    /// Several poms: one artifact per pom, each with the files named after it (a
    /// multi-module set in one run); else one artifact of every file.
    fn packages(
        &self,
        files: crate::ecosystem::publish::Files,
    ) -> anyhow::Result<Vec<crate::ecosystem::publish::Package>> {
        use crate::ecosystem::publish::Package;
        let crate::ecosystem::publish::Files {
            uploads,
            provenance,
            name,
            version,
        } = files;
        let stems: Vec<String> = uploads
            .iter()
            .filter(|upload| is_pom(&upload.file_name))
            .map(|upload| upload.file_name[..upload.file_name.len() - 4].to_owned())
            .collect();
        if stems.len() <= 1 {
            return Ok(vec![Package {
                namespace: None,
                name,
                version,
                uploads,
                provenance,
            }]);
        }
        let mut packages: Vec<Package> = stems
            .iter()
            .map(|_| Package {
                namespace: None,
                name: None,
                version: None,
                uploads: Vec::new(),
                provenance: None,
            })
            .collect();
        for upload in uploads {
            let owner = stems
                .iter()
                .enumerate()
                .filter(|(_, stem)| {
                    upload
                        .file_name
                        .strip_prefix(stem.as_str())
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('-'))
                })
                .max_by_key(|(_, stem)| stem.len())
                .map(|(index, _)| index);
            let Some(index) = owner else {
                anyhow::bail!(crate::diagnostics::HintedError::new(
                    format!("`{}` belongs to none of the poms given", upload.file_name),
                    "name each file `<artifactId>-<version>[-classifier].<ext>` after its pom"
                ));
            };
            packages[index].uploads.push(upload);
        }
        Ok(packages)
    }

    /// Beside the pom, as `<artifactId>-<version>-provenance.intoto.jsonl`.
    fn provenance_apart(&self) -> bool {
        false
    }

    fn publish<'a>(
        &'a self,
        target: &'a crate::ecosystem::publish::Target,
        package: crate::ecosystem::publish::Package,
    ) -> crate::ecosystem::publish::Publishing<'a> {
        Box::pin(async move {
            let session = target.session(crate::format::Format::Maven).await?;
            let mut uploads = package.uploads;
            if let Some(provenance) = &package.provenance
                && let Some(pom) = uploads.iter().find(|upload| is_pom(&upload.file_name))
            {
                let base = pom.file_name.trim_end_matches(".pom").to_owned();
                uploads.push(Upload::new(
                    format!("{base}-provenance.intoto.jsonl"),
                    provenance.bytes.clone(),
                ));
            }
            let (files, package, version) = publish(&session, &uploads).await?;
            Ok(crate::ecosystem::publish::Published {
                package,
                version,
                files,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_versions_and_snapshot_numbers() {
        let coordinates = Coordinates {
            group_id: "com.acme".into(),
            artifact_id: "lib".into(),
            version: "1.1".into(),
        };
        let text = artifact_metadata(
            &coordinates,
            &["1.0".into(), "1.1".into()],
            "20260101000000",
        );
        assert_eq!(parse_metadata(&text).versions, vec!["1.0", "1.1"]);
        assert!(text.contains("<release>1.1</release>"));
        let text = snapshot_metadata(
            &coordinates,
            "20260101.000000",
            3,
            &[(None, "jar".into())],
            "20260101000000",
        );
        let parsed = parse_metadata(&text);
        assert_eq!(parsed.build_number, Some(3));
        assert_eq!(parsed.timestamp.as_deref(), Some("20260101.000000"));
        assert_eq!(
            classifier_and_extension("lib-1.1-provenance.intoto.jsonl", &coordinates),
            Some((Some("provenance".into()), "intoto.jsonl".into()))
        );
    }
}
