//! Restore `requirements.txt` files pinned with `--hash`, `uv.lock` and `pylock.toml` (read
//! by [`super::lock`]) into a wheelhouse that `pip install --no-index --find-links DIR`
//! installs from.
//!
//! Each requirement's files are found on the index's project page (PEP 691 JSON, or PEP 503
//! HTML), and only files whose sha256 the requirement pins are downloaded (a pure-Python
//! wheel alone when one is pinned, since it installs everywhere), verified, and placed.

use std::path::{Path, PathBuf};

use super::{SIMPLE_JSON_V1, normalize_name};
use crate::cas::{Algorithm, Digest};
use crate::fetcher::{Fetcher, RestoreError, Summary};
use crate::secret::SafeUrl;

/// The Accept header pip sends for project pages (PEP 691).
const SIMPLE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";

/// A pinned requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Project name as written.
    pub name: String,
    /// The pinned version.
    pub version: String,
    /// Allowed file digests.
    pub hashes: Vec<Digest>,
    /// `file:line` for messages.
    pub origin: String,
}

/// A requirements file lading cannot use.
#[derive(Debug, thiserror::Error)]
#[error("`{origin}`: {message}")]
pub struct RequirementsError {
    /// `file:line`.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

/// Parse a requirements file: `name[extras]==version [; markers] --hash=algo:hex ...`, with
/// `\` continuations and comments. Option lines (`--index-url`, `-r`) are returned as notes.
///
/// # Errors
/// A requirement without an exact `==` pin or without a `--hash`, naming file and line.
pub fn parse_requirements(
    path: &Path,
    text: &str,
) -> Result<(Vec<Requirement>, Vec<String>), RequirementsError> {
    let mut requirements = Vec::new();
    let mut notes = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    for (index, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = index + 1;
        }
        let line = match raw.find(" #") {
            Some(at) => &raw[..at],
            None if raw.trim_start().starts_with('#') => "",
            None => raw,
        };
        if let Some(continued) = line.trim_end().strip_suffix('\\') {
            logical.push_str(continued);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let statement = std::mem::take(&mut logical);
        let statement = statement.trim();
        let origin = format!("{}:{start}", path.display());
        if statement.is_empty() {
            continue;
        }
        if statement.starts_with('-') && !statement.starts_with("--hash") {
            notes.push(format!("{origin}: option `{statement}` is not followed"));
            continue;
        }
        let mut hashes = Vec::new();
        let mut spec = String::new();
        for token in statement.split_whitespace() {
            if let Some(value) = token.strip_prefix("--hash=") {
                let digest = value
                    .split_once(':')
                    .and_then(|(algorithm, hex_text)| {
                        Digest::from_hex(Algorithm::parse(algorithm)?, hex_text)
                    })
                    .ok_or_else(|| RequirementsError {
                        origin: origin.clone(),
                        message: format!("`--hash={value}` is not `sha256:<hex>`"),
                    })?;
                hashes.push(digest);
            } else {
                spec.push_str(token);
                spec.push(' ');
            }
        }
        let requirement = spec.split(';').next().unwrap_or_default().replace(' ', "");
        let Some((name, version)) = requirement.split_once("==") else {
            return Err(RequirementsError {
                origin,
                message: format!("`{requirement}` is not pinned with `==`"),
            });
        };
        let name = name.split('[').next().unwrap_or(name).to_owned();
        if hashes.is_empty() {
            return Err(RequirementsError {
                origin,
                message: format!(
                    "`{name}=={version}` has no `--hash` (generate with `pip-compile --generate-hashes` or `uv pip compile --generate-hashes`)"
                ),
            });
        }
        requirements.push(Requirement {
            name,
            version: version.to_owned(),
            hashes,
            origin,
        });
    }
    Ok((requirements, notes))
}

/// The simple index URL for an endpoint: itself when it ends in `simple/`, else
/// `<endpoint>simple/` (CodeArtifact's pypi endpoint).
#[must_use]
pub fn index_url(endpoint: &url::Url) -> url::Url {
    let mut text = endpoint.as_str().to_owned();
    if !text.ends_with('/') {
        text.push('/');
    }
    if !text.ends_with("/simple/") {
        text.push_str("simple/");
    }
    url::Url::parse(&text).unwrap_or_else(|_| endpoint.clone())
}

/// A file on a project page: name, absolute URL, sha256 when listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFile {
    /// File name.
    pub filename: String,
    /// Absolute URL without fragment.
    pub url: url::Url,
    /// Listed sha256.
    pub sha256: Option<Digest>,
}

/// Files listed on a project page, JSON (PEP 691) or HTML (PEP 503), read by the shared
/// [`super::simple`] parser (`json` says which the server sent; a body that is not the
/// JSON it claims lists nothing).
#[must_use]
pub fn parse_project_page(page_url: &url::Url, body: &[u8], json: bool) -> Vec<ProjectFile> {
    if json != body.trim_ascii_start().starts_with(b"{") {
        return Vec::new();
    }
    super::simple::parse_project_page(body, page_url)
        .map(|page| page.files)
        .unwrap_or_default()
        .into_iter()
        .map(|file| ProjectFile {
            sha256: file
                .sha256()
                .and_then(|hex_text| Digest::from_hex(Algorithm::Sha256, hex_text)),
            filename: file.filename,
            url: file.url,
        })
        .collect()
}

/// The files of `page` (its body, and its `Content-Type` when it was just fetched; a stored
/// page is JSON when it starts with `{`) whose sha256 `requirement` pins; only the
/// pure-Python wheels among them when there is one, since it installs everywhere.
fn pinned_files(
    requirement: &Requirement,
    page: &SafeUrl,
    body: &[u8],
    content_type: Option<&str>,
) -> Vec<(ProjectFile, Digest)> {
    let json = match content_type {
        Some(value) => value.starts_with(SIMPLE_JSON_V1),
        None => body.trim_ascii_start().starts_with(b"{"),
    };
    let mut pinned: Vec<(ProjectFile, Digest)> = parse_project_page(page.expose(), body, json)
        .into_iter()
        .filter_map(|file| {
            let digest = file.sha256.clone()?;
            requirement
                .hashes
                .contains(&digest)
                .then_some((file, digest))
        })
        .collect();
    if pinned
        .iter()
        .any(|(file, _)| file.filename.ends_with("-none-any.whl"))
    {
        pinned.retain(|(file, _)| file.filename.ends_with("-none-any.whl"));
    }
    pinned
}

/// A file name from an index that can be placed in the wheelhouse: one plain path
/// component (the index, not the hash-pinned content, chooses it).
#[must_use]
pub fn is_safe_file_name(filename: &str) -> bool {
    !filename.is_empty() && !filename.starts_with('.') && !filename.contains(['/', '\\', '\0'])
}

/// One requirement per project and version (a `uv.lock` beside the `requirements.txt`
/// exported from it pins the same files), with the hashes of all.
fn merge(requirements: Vec<Requirement>) -> Vec<Requirement> {
    let mut merged: Vec<Requirement> = Vec::new();
    for requirement in requirements {
        let same = merged.iter_mut().find(|seen| {
            normalize_name(&seen.name) == normalize_name(&requirement.name)
                && seen.version == requirement.version
        });
        match same {
            Some(seen) => {
                for digest in requirement.hashes {
                    if !seen.hashes.contains(&digest) {
                        seen.hashes.push(digest);
                    }
                }
            }
            None => merged.push(requirement),
        }
    }
    merged
}

/// Restore `lockfiles` (`requirements*.txt`, `uv.lock`, `pylock.toml`) into `wheelhouse`.
///
/// # Errors
/// Unparseable requirements, a pinned file missing from the index, failed or mismatched
/// downloads.
pub async fn restore(
    fetcher: &Fetcher,
    endpoint: &SafeUrl,
    wheelhouse: &Path,
    lockfiles: &[PathBuf],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut requirements = Vec::new();
    for path in lockfiles {
        let text = fs_err::read_to_string(path)?;
        let is_lock = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(super::lock::is_lock_file_name);
        let (found, notes) = if is_lock {
            super::lock::parse(path, &text)?
        } else {
            parse_requirements(path, &text)?
        };
        summary.skipped.extend(notes);
        requirements.extend(found);
    }
    let requirements = merge(requirements);
    let index = index_url(endpoint.expose());
    let mut tasks = tokio::task::JoinSet::new();
    for requirement in requirements {
        let fetcher = fetcher.clone();
        let page = index.join(&format!("{}/", normalize_name(&requirement.name)))?;
        tasks.spawn(async move {
            let spec = format!("{}=={}", requirement.name, requirement.version);
            let page = SafeUrl::from(page);
            // The page a previous restore remembered, when it still lists a pinned file;
            // else a fresh one, remembered once its pinned files verified.
            let mut fresh = None;
            let mut pinned = fetcher
                .remembered(&page)
                .map(|body| pinned_files(&requirement, &page, &body, None))
                .unwrap_or_default();
            if pinned.is_empty() {
                let document = fetcher
                    .document(&spec, &page, Some(SIMPLE_ACCEPT), false)
                    .await?;
                let content_type = document
                    .headers
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok());
                pinned = pinned_files(&requirement, &page, &document.body, content_type);
                fresh = Some(document.body);
            }
            if pinned.is_empty() {
                return Err(RestoreError::Invalid(format!(
                    "`{}`: no file of `{spec}` on {page} has a pinned hash ({})",
                    requirement.origin,
                    requirement
                        .hashes
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            let mut out = Vec::new();
            for (file, digest) in pinned {
                let fetched = fetcher
                    .verified(
                        &format!("{spec} ({})", file.filename),
                        &SafeUrl::from(file.url),
                        &[digest],
                    )
                    .await?;
                out.push((file.filename, fetched.blob));
            }
            if let Some(body) = fresh {
                fetcher.remember(&page, &body)?;
            }
            Ok::<_, RestoreError>(out)
        });
    }
    let mut placed = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        placed.extend(joined??);
        summary.packages += 1;
    }
    for (filename, blob) in placed {
        if !is_safe_file_name(&filename) {
            anyhow::bail!("the index listed an unsafe file name `{filename}`");
        }
        crate::cas::link_or_copy(&blob.path, &wheelhouse.join(&filename))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_file_names_cannot_traverse() {
        for bad in [
            "",
            ".",
            "..",
            "../a.whl",
            "a/b.whl",
            "/etc/passwd",
            ".hidden.whl",
            "a\\b.whl",
            "a\0.whl",
        ] {
            assert!(!is_safe_file_name(bad), "{bad:?}");
        }
        assert!(is_safe_file_name("demo-1.0-py3-none-any.whl"));
        // A percent-encoded `..%2F` in an HTML href decodes to a name with a slash.
        let page = url::Url::parse("http://h/simple/demo/").unwrap();
        // So does a link text naming a path (the text is the file name when there is one).
        let files = parse_project_page(
            &page,
            b"<a href=\"x/..%2F..%2Fevil.whl#sha256=00\"></a><a href=\"y.whl\">../y.whl</a>",
            false,
        );
        for file in &files {
            assert!(!is_safe_file_name(&file.filename), "{}", file.filename);
        }
        assert_eq!(files.len(), 2);
    }

    #[test]
    fn requirements_with_hashes_continuations_and_markers() {
        let hash = "a".repeat(64);
        let text = format!(
            "# comment\n--index-url https://x/simple/\nrequests[socks]==2.31.0 ; python_version >= \"3.8\" \\\n    --hash=sha256:{hash} \\\n    --hash=sha256:{}\n\nidna==3.4 --hash=sha256:{hash}  # trailing\n",
            "b".repeat(64)
        );
        let (requirements, notes) =
            parse_requirements(Path::new("requirements.txt"), &text).unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(requirements.len(), 2);
        assert_eq!(requirements[0].name, "requests");
        assert_eq!(requirements[0].version, "2.31.0");
        assert_eq!(requirements[0].hashes.len(), 2);
        assert_eq!(requirements[0].origin, "requirements.txt:3");
        assert_eq!(requirements[1].origin, "requirements.txt:7");
        let error = parse_requirements(Path::new("r.txt"), "flask>=2\n").unwrap_err();
        assert_eq!(error.origin, "r.txt:1");
        let error = parse_requirements(Path::new("r.txt"), "\nflask==2.0\n").unwrap_err();
        assert!(
            error.to_string().contains("r.txt:2") && error.message.contains("--hash"),
            "{error}"
        );
    }

    #[test]
    fn project_pages_in_html_and_json() {
        let page = url::Url::parse("http://h/simple/demo/").unwrap();
        let hash = "c".repeat(64);
        let html = format!(
            "<html><a href=\"../../files/demo-1.0-py3-none-any.whl#sha256={hash}\" data-requires-python=\"&gt;=3\">demo-1.0-py3-none-any.whl</a></html>"
        );
        let files = parse_project_page(&page, html.as_bytes(), false);
        assert_eq!(files.len(), 1);
        assert_eq!(
            files[0].url.as_str(),
            "http://h/files/demo-1.0-py3-none-any.whl"
        );
        assert_eq!(files[0].filename, "demo-1.0-py3-none-any.whl");
        assert_eq!(files[0].sha256.as_ref().unwrap().hex(), hash);
        let json = format!(
            r#"{{"files":[{{"filename":"demo-1.0.tar.gz","url":"/f/demo-1.0.tar.gz","hashes":{{"sha256":"{hash}"}}}}]}}"#
        );
        let files = parse_project_page(&page, json.as_bytes(), true);
        assert_eq!(files[0].url.as_str(), "http://h/f/demo-1.0.tar.gz");
        assert_eq!(
            index_url(&url::Url::parse("http://h/d/x/pypi/main/").unwrap()).as_str(),
            "http://h/d/x/pypi/main/simple/"
        );
        assert_eq!(
            index_url(&url::Url::parse("http://h/simple").unwrap()).as_str(),
            "http://h/simple/"
        );
    }
}
