//! What every format's publisher shares: the files to send, the outcome per file, the error
//! type (digest conflicts name both digests), auth headers and a small multipart writer.
//!
//! Each publisher follows the same discipline: read what the repository already has for the
//! version, skip files whose digest matches, fail on a different digest before sending
//! anything, upload the rest, then read every uploaded file back and compare digests.

#![expect(
    clippy::result_large_err,
    reason = "PublishError holds HttpError by value so the exit-code classifier finds it in the chain"
)]

use reqwest::RequestBuilder;
use serde::Serialize;

use crate::archive::Digests;
use crate::http::{HttpClient, HttpError};
use crate::repository::codeartifact::CodeArtifactError;
use crate::secret::{SafeUrl, Secret};

/// One file to publish.
#[derive(Debug, Clone)]
pub struct Upload {
    /// File name (as packed).
    pub file_name: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Its digests.
    pub digests: Digests,
}

impl Upload {
    /// Build from bytes.
    #[must_use]
    pub fn new(file_name: impl Into<String>, bytes: Vec<u8>) -> Self {
        let digests = Digests::of(&bytes);
        Self {
            file_name: file_name.into(),
            bytes,
            digests,
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Uploaded and read back.
    Published,
    /// The repository already had these exact bytes: nothing sent.
    AlreadyPublished,
    /// `--dry-run`: would be sent.
    WouldPublish,
    /// Not sent, with a note (e.g. provenance for a registry with no generic format).
    Skipped,
}

/// The report line for one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// File name.
    pub file: String,
    /// Where it lives (redacted).
    pub url: String,
    /// sha256 of the local bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// What happened.
    pub outcome: Outcome,
    /// Why, for skipped files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl FileReport {
    /// A report line for an upload.
    #[must_use]
    pub fn new(upload: &Upload, url: &str, outcome: Outcome) -> Self {
        Self {
            file: upload.file_name.clone(),
            url: url.to_owned(),
            sha256: upload.digests.sha256.clone(),
            size: upload.digests.size,
            outcome,
            note: None,
        }
    }
}

/// The note on a provenance file kept from an earlier run.
pub const PROVENANCE_KEPT: &str = "provenance from an earlier run kept";

/// Whether `upload` is a provenance file (`*.intoto.jsonl`, as `lading pack` names it and the
/// Maven `-provenance.intoto.jsonl` attachment).
#[must_use]
pub fn is_provenance(upload: &Upload) -> bool {
    upload.file_name.ends_with(".intoto.jsonl")
}

/// The report for a provenance file the repository holds in other bytes than `upload` but
/// for the same artifacts ([`crate::provenance::same_subjects`]: a rerun or a retried CI
/// attempt differs only in run metadata): the earlier provenance stays, nothing is sent, and
/// the file counts as already published. `None` when `upload` is not a provenance file or the
/// subjects differ (a digest conflict then).
#[must_use]
pub fn kept_provenance(upload: &Upload, existing: &[u8], url: &str) -> Option<FileReport> {
    if !is_provenance(upload) || !crate::provenance::same_subjects(existing, &upload.bytes) {
        return None;
    }
    let mut report = FileReport::new(upload, url, Outcome::AlreadyPublished);
    report.note = Some(format!(
        "{PROVENANCE_KEPT}: same artifacts and digests, run metadata differs (repository sha256:{})",
        Digests::of(existing).sha256
    ));
    Some(report)
}

/// A failed publish.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The repository holds different bytes under this version.
    #[error(
        "`{file}` differs from what the repository already has for {package} {version}: the repository has {existing}, the local file is {local}"
    )]
    DigestMismatch {
        /// File name.
        file: String,
        /// Package.
        package: String,
        /// Version.
        version: String,
        /// The repository's digest (`sha256:…`, `sha512-…`).
        existing: String,
        /// The local digest, same algorithm.
        local: String,
    },
    /// After upload the repository serves other bytes.
    #[error(
        "reading `{file}` back from {url} gave {actual}, not the uploaded {expected}: the repository stored something else"
    )]
    ReadBack {
        /// File name.
        file: String,
        /// Redacted URL.
        url: String,
        /// Expected digest.
        expected: String,
        /// Read-back digest.
        actual: String,
    },
    /// An HTTP request failed.
    #[error("failed to {action}")]
    Http {
        /// What lading was doing.
        action: String,
        /// Why.
        #[source]
        source: HttpError,
    },
    /// A CodeArtifact call failed (not transparent, so the exit-code classifier sees it).
    #[error("the CodeArtifact API call failed")]
    CodeArtifact(#[from] CodeArtifactError),
    /// The files or the repository's answer cannot be used.
    #[error("{0}")]
    Invalid(String),
}

impl PublishError {
    /// Wrap an HTTP error with what was being done.
    pub fn http(action: impl Into<String>) -> impl FnOnce(HttpError) -> Self {
        let action = action.into();
        move |source| Self::Http { action, source }
    }
}

/// How requests authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Anonymous.
    None,
    /// `Authorization: Bearer`.
    Bearer(Secret<String>),
    /// HTTP Basic.
    Basic(String, Secret<String>),
    /// The whole `Authorization` value, as cargo and `gem push` send their token (no
    /// scheme of their own: the token is the value, `Bearer <token>` for CodeArtifact).
    Raw(Secret<String>),
}

impl Auth {
    /// Add the header to a request.
    pub fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Self::None => request,
            Self::Bearer(token) => request.bearer_auth(token.expose()),
            Self::Basic(user, password) => request.basic_auth(user, Some(password.expose())),
            Self::Raw(value) => match reqwest::header::HeaderValue::from_str(value.expose()) {
                Ok(mut header) => {
                    header.set_sensitive(true);
                    request.header(reqwest::header::AUTHORIZATION, header)
                }
                // Not a header value: the request fails to build, without printing it.
                Err(_) => request.header(reqwest::header::AUTHORIZATION, value.expose()),
            },
        }
    }

    /// The secret, if any (NuGet sends it as the API key too).
    #[must_use]
    pub const fn secret(&self) -> Option<&Secret<String>> {
        match self {
            Self::None => None,
            Self::Bearer(token) | Self::Basic(_, token) | Self::Raw(token) => Some(token),
        }
    }
}

/// Everything a publisher needs.
#[derive(Debug, Clone)]
pub struct Session {
    /// The retrying client.
    pub client: HttpClient,
    /// The format's data-plane URL.
    pub endpoint: SafeUrl,
    /// Credentials.
    pub auth: Auth,
    /// List, don't send.
    pub dry_run: bool,
    /// Uploads in flight at once (formats whose order doesn't matter).
    pub parallel: usize,
}

impl Session {
    /// GET a URL: `Ok(None)` on 404/410.
    ///
    /// # Errors
    /// Other failures.
    pub async fn get_optional(
        &self,
        url: &SafeUrl,
        accept: Option<&str>,
    ) -> Result<Option<bytes::Bytes>, PublishError> {
        let auth = self.auth.clone();
        let accept = accept.map(ToOwned::to_owned);
        let result = self
            .client
            .get_bytes(url, std::time::Duration::from_secs(60), move |request| {
                let request = auth.apply(request);
                match &accept {
                    Some(accept) => request.header(reqwest::header::ACCEPT, accept),
                    None => request,
                }
            })
            .await;
        match result {
            Ok(downloaded) => Ok(Some(downloaded.body)),
            Err(error)
                if matches!(
                    error.status(),
                    Some(reqwest::StatusCode::NOT_FOUND | reqwest::StatusCode::GONE)
                ) =>
            {
                Ok(None)
            }
            Err(error) => Err(PublishError::Http {
                action: format!("read {}", url.redacted()),
                source: error,
            }),
        }
    }

    /// GET a URL that must exist.
    ///
    /// # Errors
    /// Any failure, 404 included.
    pub async fn get(&self, url: &SafeUrl) -> Result<bytes::Bytes, PublishError> {
        self.get_optional(url, None).await?.ok_or_else(|| {
            PublishError::Invalid(format!(
                "{} is missing right after it was uploaded",
                url.redacted()
            ))
        })
    }

    /// Join a relative path onto the endpoint (which is treated as a directory).
    ///
    /// # Errors
    /// When the result is not a URL.
    pub fn join(&self, relative: &str) -> Result<SafeUrl, PublishError> {
        join(&self.endpoint, relative)
    }
}

/// Join `relative` onto `base` as a directory.
///
/// # Errors
/// When the result is not a URL.
pub fn join(base: &SafeUrl, relative: &str) -> Result<SafeUrl, PublishError> {
    let mut text = base.expose().as_str().to_owned();
    if !text.ends_with('/') {
        text.push('/');
    }
    text.push_str(relative);
    SafeUrl::parse(&text)
        .map_err(|error| PublishError::Invalid(format!("bad URL `{text}`: {error}")))
}

/// Compare a read-back body to what was uploaded (sha256).
///
/// # Errors
/// [`PublishError::ReadBack`].
pub fn check_read_back(upload: &Upload, url: &SafeUrl, body: &[u8]) -> Result<(), PublishError> {
    let actual = Digests::of(body).sha256;
    if actual == upload.digests.sha256 {
        Ok(())
    } else {
        Err(PublishError::ReadBack {
            file: upload.file_name.clone(),
            url: url.redacted(),
            expected: format!("sha256:{}", upload.digests.sha256),
            actual: format!("sha256:{actual}"),
        })
    }
}

/// A `multipart/form-data` body built in memory.
#[derive(Debug)]
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    /// An empty body with a random boundary.
    #[must_use]
    pub fn new() -> Self {
        let boundary = format!("lading-{:032x}", rand::random::<u128>());
        Self {
            boundary,
            body: Vec::new(),
        }
    }

    /// Add a text field.
    pub fn text(&mut self, name: &str, value: &str) {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n",
                self.boundary,
                escape(name)
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
    }

    /// Add a file field.
    pub fn file(&mut self, name: &str, file_name: &str, bytes: &[u8]) {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                self.boundary,
                escape(name),
                escape(file_name)
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
    }

    /// The content type and the finished body.
    #[must_use]
    pub fn finish(mut self) -> (String, Vec<u8>) {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body,
        )
    }
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_has_fields_and_a_closing_boundary() {
        let mut form = Multipart::new();
        form.text(":action", "file_upload");
        form.file("content", "a.whl", b"bytes");
        let (content_type, body) = form.finish();
        let boundary = content_type.split("boundary=").nth(1).unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("name=\":action\"\r\n\r\nfile_upload\r\n"));
        assert!(text.contains(
            "filename=\"a.whl\"\r\nContent-Type: application/octet-stream\r\n\r\nbytes\r\n"
        ));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }

    #[test]
    fn join_treats_the_base_as_a_directory() {
        let base = SafeUrl::parse("http://host/repo").unwrap();
        assert_eq!(
            join(&base, "a/b.jar").unwrap().expose().as_str(),
            "http://host/repo/a/b.jar"
        );
    }
}

/// A format's publish capability: how the files `lading publish --format` is given group
/// into packages, and publishing one package.
pub trait Publish: Sync {
    /// Group `files` (named with `--format`) into packages; `name` and `version` are
    /// `--name` and `--version`. Default: each file is a package of its own (an npm
    /// tarball, a nupkg, a Python distribution), with the provenance beside each.
    ///
    /// # Errors
    /// Files that belong to no package.
    fn packages(&self, files: Files) -> anyhow::Result<Vec<Package>> {
        let Files {
            uploads,
            provenance,
            name,
            version,
        } = files;
        Ok(uploads
            .into_iter()
            .map(|upload| Package {
                namespace: None,
                name: name.clone(),
                version: version.clone(),
                uploads: vec![upload],
                provenance: provenance.clone(),
            })
            .collect())
    }

    /// Whether the provenance is published apart from the package, as a generic package
    /// beside it (where the repository has the generic format), rather than among the
    /// package's own files.
    fn provenance_apart(&self) -> bool {
        true
    }

    /// Publish `package` to `target`.
    fn publish<'a>(&'a self, target: &'a Target, package: Package) -> Publishing<'a>;
}

/// What a publish returns.
pub type Publishing<'a> =
    std::pin::Pin<Box<dyn Future<Output = anyhow::Result<Published>> + Send + 'a>>;

/// The files `lading publish --format` was given.
#[derive(Debug, Clone)]
pub struct Files {
    /// Everything but the provenance.
    pub uploads: Vec<Upload>,
    /// The `*.intoto.jsonl`, if one was given.
    pub provenance: Option<Upload>,
    /// `--name`.
    pub name: Option<String>,
    /// `--version`.
    pub version: Option<String>,
}

/// One package to publish.
#[derive(Debug, Clone)]
pub struct Package {
    /// Generic: the namespace, over `--namespace` (the provenance of another format's
    /// package goes under that format's name).
    pub namespace: Option<String>,
    /// Name, from the manifest or `--name` (formats that read it from the files ignore it).
    pub name: Option<String>,
    /// Version, likewise.
    pub version: Option<String>,
    /// The files.
    pub uploads: Vec<Upload>,
    /// Its provenance, if any.
    pub provenance: Option<Upload>,
}

/// What publishing one package did.
#[derive(Debug, Clone)]
pub struct Published {
    /// The package as the repository names it.
    pub package: String,
    /// Its version.
    pub version: String,
    /// One report per file.
    pub files: Vec<FileReport>,
}

/// Where `lading publish` publishes: the repository, a session to copy per format, and
/// the options of the command line that publishers read.
#[derive(Debug)]
pub struct Target {
    /// The repository.
    pub repository: crate::repository::Repository,
    /// Client, credentials and `--dry-run`; the endpoint is set per format by
    /// [`Target::session`].
    pub session_base: Session,
    /// The CodeArtifact API, when the repository is a CodeArtifact one (generic assets go
    /// through it).
    pub codeartifact: Option<crate::repository::codeartifact::CodeArtifact>,
    /// Generic: `--namespace`.
    pub namespace: Option<String>,
    /// npm: `--tag`.
    pub tag: Option<String>,
    /// npm: `--access`.
    pub access: Option<String>,
}

impl Target {
    /// A session on `format`'s endpoint, authenticating as the format's clients do.
    ///
    /// # Errors
    /// The endpoint cannot be found.
    pub async fn session(&self, format: crate::format::Format) -> anyhow::Result<Session> {
        use anyhow::Context as _;
        let endpoint = self
            .repository
            .endpoint(format)
            .await
            .context("failed to find the repository endpoint")?;
        let mut session = self.session_base.clone();
        session.endpoint = endpoint;
        if format.auth_scheme() == crate::format::AuthScheme::Bearer
            && let Some(token) = session.auth.secret()
        {
            session.auth = Auth::Bearer(token.clone());
        }
        Ok(session)
    }
}

/// One file a [`PublishFile`] publisher handled: its report, and the package and version
/// the repository files it under (read from the file itself).
#[derive(Debug, Clone)]
pub struct PublishedFile {
    /// The report line.
    pub report: FileReport,
    /// The package, as the repository names it.
    pub package: String,
    /// Its version.
    pub version: String,
}

impl PublishedFile {
    /// A file's report under `package` `version`.
    #[must_use]
    pub fn new(report: FileReport, package: String, version: String) -> Self {
        Self {
            report,
            package,
            version,
        }
    }
}

/// What a [`PublishFile::publish_file`] returns.
pub type FilePublishing<'a> =
    std::pin::Pin<Box<dyn Future<Output = Result<PublishedFile, PublishError>> + Send + 'a>>;

/// A format whose packages are published one file at a time (an npm tarball, a nupkg, a
/// wheel, a `.crate`, a `.gem`): it supplies only the upload of one file; [`file_by_file`]
/// is the loop over a package's files, and every `PublishFile` is a [`Publish`] through it.
pub trait PublishFile: Sync {
    /// The format whose endpoint the session is opened on.
    fn format(&self) -> crate::format::Format;

    /// Adjust the session [`Target::session`] opened before any request (how the format's
    /// client authenticates, when that differs from [`crate::format::AuthScheme`]).
    fn prepare_session(&self, target: &Target, session: &mut Session) {
        let _ = (target, session);
    }

    /// Publish one file: skip it when the repository has these bytes, fail when it has
    /// others, else upload it and read it back.
    fn publish_file<'a>(
        &'a self,
        target: &'a Target,
        session: &'a Session,
        upload: &'a Upload,
    ) -> FilePublishing<'a>;
}

/// A format publishing file by file publishes a package with [`file_by_file`] (and the
/// default grouping: each file a package, the provenance beside it).
impl<T: PublishFile> Publish for T {
    fn publish<'a>(&'a self, target: &'a Target, package: Package) -> Publishing<'a> {
        file_by_file(self, target, package)
    }
}

/// Publish `package`'s files one by one with `publisher`, in order, stopping at the first
/// failure; the package and version reported are the last file's.
pub fn file_by_file<'a>(
    publisher: &'a dyn PublishFile,
    target: &'a Target,
    package: Package,
) -> Publishing<'a> {
    Box::pin(async move {
        let mut session = target.session(publisher.format()).await?;
        publisher.prepare_session(target, &mut session);
        let mut files = Vec::new();
        let (mut name, mut version) = (String::new(), String::new());
        for upload in &package.uploads {
            let published = publisher.publish_file(target, &session, upload).await?;
            files.push(published.report);
            (name, version) = (published.package, published.version);
        }
        Ok(Published {
            package: name,
            version,
            files,
        })
    })
}
