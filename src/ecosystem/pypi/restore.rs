//! Restore `requirements.txt` files pinned with `--hash`, `uv.lock` and `pylock.toml` (read
//! by [`super::lock`]) into a wheelhouse that `pip install --no-index --find-links DIR`
//! installs from.
//!
//! Each requirement's files are found on the index's project page (PEP 691 JSON, or PEP 503
//! HTML). Of the files whose sha256 the requirement pins, the one pip would install on the
//! target interpreter ([`super::tags`]) is downloaded, verified, and placed: the wheel whose
//! best tag ranks first in pip's order (the highest build number among equals), an sdist
//! only when no wheel fits, skipping files whose `requires-python` excludes the target and
//! preferring files not yanked. Requirements whose environment marker is false on the
//! target are skipped. With `--all-platforms` every pinned file is placed instead (a
//! pure-Python wheel alone when one is pinned, since it installs everywhere), for a
//! wheelhouse that serves several machines.

use std::path::{Path, PathBuf};

use super::requirement::{Requirement, RequirementsError};
use super::tags::{TagRanks, Target};
use super::{DistributionFile, SIMPLE_JSON_V1, normalize_name};
use crate::cas::{Algorithm, Digest};
use crate::diagnostics::HintedError;
use crate::fetcher::{Fetcher, RestoreError, Summary};
use crate::secret::SafeUrl;

/// The Accept header pip sends for project pages (PEP 691).
const SIMPLE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";

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
        // A comment line, even one holding ` #` further on; else a comment after ` #`.
        let line = match raw.find(" #") {
            _ if raw.trim_start().starts_with('#') => "",
            Some(at) => &raw[..at],
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
        let (requirement, marker) = match spec.split_once(';') {
            Some((requirement, marker)) => (requirement, Some(marker.trim().to_owned())),
            None => (spec.as_str(), None),
        };
        let marker = marker.filter(|marker| !marker.is_empty());
        let requirement = requirement.replace(' ', "");
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
            marker,
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
    /// The Python versions it installs on (`requires-python`, `data-requires-python`).
    pub requires_python: Option<String>,
    /// Yanked (PEP 592): pip takes it only when nothing else fits.
    pub yanked: bool,
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
            requires_python: file.requires_python,
            yanked: file.yanked.is_some(),
        })
        .collect()
}

/// What a restore fetches of each requirement.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every pinned file (`--all-platforms`), a pure-Python wheel alone when one is pinned.
    AllPlatforms,
    /// The file pip would install on the target.
    Target {
        /// The target's tags, ranked.
        ranks: TagRanks,
        /// The target's tags in order, for messages.
        tags: Vec<String>,
        /// The version `requires-python` is checked against.
        python_full_version: String,
        /// The marker variables.
        markers: super::markers::Environment,
    },
}

impl Selection {
    /// The target in a message: `Python 3.11.7, best tag cp311-cp311-linux_x86_64`.
    fn describe(&self) -> String {
        match self {
            Self::AllPlatforms => "every platform".to_owned(),
            Self::Target {
                tags,
                python_full_version,
                ..
            } => format!(
                "Python {python_full_version}, best tag `{}`",
                tags.first().map_or("", String::as_str)
            ),
        }
    }

    /// The selection for a target, or every platform's files without one.
    #[must_use]
    pub fn new(target: Option<&Target>) -> Self {
        target.map_or(Self::AllPlatforms, |target| Self::Target {
            ranks: TagRanks::new(&target.tags),
            tags: target.tags.clone(),
            python_full_version: target.python_full_version.clone(),
            markers: target.markers.clone(),
        })
    }
}

/// Why no pinned file of a requirement was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Unchosen {
    /// No listed file has a pinned sha256.
    NonePinned,
    /// Pinned files exist, none installs on the target: their names, with why.
    Incompatible(Vec<String>),
}

/// How pip ranks one version's files: not yanked first, then the best tag (a lower rank),
/// then the build tag.
type PipPreference = (bool, std::cmp::Reverse<usize>, Option<(u64, String)>);

/// pip's build tag order: the number, then the rest (`1b` after `1`).
fn build_key(build: Option<&str>) -> Option<(u64, String)> {
    let build = build?;
    let digits = build.len() - build.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    Some((
        build[..digits].parse().unwrap_or(0),
        build[digits..].to_owned(),
    ))
}

/// The files of `page` (its body, and its `Content-Type` when it was just fetched; a stored
/// page is JSON when it starts with `{`) whose sha256 `requirement` pins, narrowed by
/// `selection` to what pip would install (see the module documentation).
fn pinned_files(
    requirement: &Requirement,
    page: &SafeUrl,
    body: &[u8],
    content_type: Option<&str>,
    selection: &Selection,
) -> Result<Vec<(ProjectFile, Digest)>, Unchosen> {
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
    if pinned.is_empty() {
        return Err(Unchosen::NonePinned);
    }
    let Selection::Target {
        ranks,
        python_full_version,
        ..
    } = selection
    else {
        if pinned
            .iter()
            .any(|(file, _)| file.filename.ends_with("-none-any.whl"))
        {
            pinned.retain(|(file, _)| file.filename.ends_with("-none-any.whl"));
        }
        return Ok(pinned);
    };
    // pip's `CandidateEvaluator._sort_key` for one version with allowed hashes: not
    // yanked, then the best tag rank (an sdist after every wheel), then the build tag;
    // the first listed wins a tie.
    let mut best: Option<(PipPreference, usize)> = None;
    let mut refused = Vec::new();
    for (index, (file, _)) in pinned.iter().enumerate() {
        if let Some(requires_python) = &file.requires_python
            && !super::tags::requires_python_admits(requires_python, python_full_version)
        {
            refused.push(format!(
                "`{}` (requires-python `{requires_python}`)",
                file.filename
            ));
            continue;
        }
        let (rank, build) = match DistributionFile::parse(&file.filename) {
            Ok(DistributionFile::Wheel {
                python,
                abi,
                platform,
                build,
                ..
            }) => {
                let Some(rank) = ranks.best(&python, &abi, &platform) else {
                    refused.push(format!("`{}`", file.filename));
                    continue;
                };
                (rank, build_key(build.as_deref()))
            }
            Ok(DistributionFile::Sdist { .. }) => (ranks.len(), None),
            Err(_) => {
                refused.push(format!("`{}` (not a wheel or sdist name)", file.filename));
                continue;
            }
        };
        let key = (!file.yanked, std::cmp::Reverse(rank), build);
        if best.as_ref().is_none_or(|(current, _)| key > *current) {
            best = Some((key, index));
        }
    }
    match best {
        Some((_, index)) => Ok(vec![pinned.swap_remove(index)]),
        None => Err(Unchosen::Incompatible(refused)),
    }
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
                // Installed when either is: no marker wins, two markers join with `or`.
                seen.marker = match (seen.marker.take(), requirement.marker) {
                    (Some(left), Some(right)) if left != right => {
                        Some(format!("({left}) or ({right})"))
                    }
                    (Some(left), Some(_)) => Some(left),
                    _ => None,
                };
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

/// Whether `requirement` is installed on the target: its marker holds there (always with
/// every platform's files, and when the marker cannot be read: better a file too many).
fn marker_holds(requirement: &Requirement, selection: &Selection) -> Result<bool, String> {
    let (Some(marker), Selection::Target { markers, .. }) = (&requirement.marker, selection) else {
        return Ok(true);
    };
    super::markers::evaluate(marker, markers).map_err(|error| error.to_string())
}

/// Restore `lockfiles` (`requirements*.txt`, `uv.lock`, `pylock.toml`) into `wheelhouse`,
/// the files `selection` chooses.
///
/// # Errors
/// Unparseable requirements, a pinned file missing from the index, no pinned file for the
/// target, failed or mismatched downloads.
pub async fn restore(
    fetcher: &Fetcher,
    endpoint: &SafeUrl,
    wheelhouse: &Path,
    lockfiles: &[PathBuf],
    selection: &Selection,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let placed = fetch_chosen(fetcher, endpoint, lockfiles, selection, summary, None).await?;
    for chosen in placed {
        if !is_safe_file_name(&chosen.filename) {
            anyhow::bail!("the index listed an unsafe file name `{}`", chosen.filename);
        }
        crate::cas::link_or_copy(&chosen.blob, &wheelhouse.join(&chosen.filename))?;
    }
    Ok(())
}

/// A file [`fetch_chosen`] chose and verified.
#[derive(Debug, Clone)]
pub struct Chosen {
    /// The requirement's project name as written in its lockfile.
    pub name: String,
    /// The file name on the index.
    pub filename: String,
    /// The verified file in the store.
    pub blob: PathBuf,
}

/// Read `lockfiles`, choose each requirement's files as `selection` says, and fetch and
/// verify them into the store; each is also sent to `sink` as soon as it verified (an
/// installer starts on it while the others download). `summary.packages` counts the
/// requirements fetched.
///
/// # Errors
/// As [`restore`].
pub async fn fetch_chosen(
    fetcher: &Fetcher,
    endpoint: &SafeUrl,
    lockfiles: &[PathBuf],
    selection: &Selection,
    summary: &mut Summary,
    sink: Option<tokio::sync::mpsc::UnboundedSender<Chosen>>,
) -> anyhow::Result<Vec<Chosen>> {
    let mut requirements = Vec::new();
    for path in lockfiles {
        let text = fs_err::read_to_string(path)?;
        let file_name = path.file_name().and_then(|name| name.to_str());
        let is_lock = file_name.is_some_and(super::lock::is_lock_file_name);
        let (found, notes) = if file_name == Some(super::poetry_lock::FILE_NAME) {
            super::poetry_lock::parse(path, &text)?
        } else if is_lock {
            super::lock::parse(path, &text)?
        } else {
            parse_requirements(path, &text)?
        };
        summary.skipped.extend(notes);
        requirements.extend(found);
    }
    let mut requirements = merge(requirements);
    requirements.retain(|requirement| match marker_holds(requirement, selection) {
        Ok(true) => true,
        Ok(false) => {
            summary.skipped.push(format!(
                "{}: `{}=={}` is not for the target (`{}`)",
                requirement.origin,
                requirement.name,
                requirement.version,
                requirement.marker.as_deref().unwrap_or_default()
            ));
            false
        }
        Err(error) => {
            tracing::warn!("{}: {error}; restoring it anyway", requirement.origin);
            true
        }
    });
    let index = index_url(endpoint.expose());
    let selection = std::sync::Arc::new(selection.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for requirement in requirements {
        let fetcher = fetcher.clone();
        let selection = selection.clone();
        let sink = sink.clone();
        let page = index.join(&format!("{}/", normalize_name(&requirement.name)))?;
        tasks.spawn(async move {
            let spec = format!("{}=={}", requirement.name, requirement.version);
            let page = SafeUrl::from(page);
            // The page a previous restore remembered, when it gives a pinned file for the
            // target; else a fresh one, remembered once the chosen files verified.
            let mut fresh = None;
            let mut chosen = fetcher.remembered(&page).map_or(Err(Unchosen::NonePinned), |body| {
                pinned_files(&requirement, &page, &body, None, &selection)
            });
            if chosen.is_err() {
                let document = fetcher
                    .document(&spec, &page, Some(SIMPLE_ACCEPT), false)
                    .await
                    .map_err(RestoreError::from)?;
                let content_type = document
                    .headers
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok());
                chosen =
                    pinned_files(&requirement, &page, &document.body, content_type, &selection);
                fresh = Some(document.body);
            }
            let chosen = match chosen {
                Ok(chosen) => chosen,
                Err(Unchosen::NonePinned) => {
                    return Err(RestoreError::Invalid(format!(
                        "`{}`: no file of `{spec}` on {page} has a pinned hash ({})",
                        requirement.origin,
                        requirement
                            .hashes
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .into());
                }
                Err(Unchosen::Incompatible(refused)) => {
                    return Err(anyhow::Error::new(HintedError::new(
                        format!(
                            "`{}`: no pinned file of `{spec}` installs on the target ({}): {}",
                            requirement.origin,
                            selection.describe(),
                            refused.join(", ")
                        ),
                        "pin a file built for this interpreter (regenerate the hashes), name the target with `--python`, `--python-version`, `--platform` and `--abi`, or fetch every pinned file with `--all-platforms`",
                    )));
                }
            };
            let mut out = Vec::new();
            for (file, digest) in chosen {
                let fetched = fetcher
                    .verified(
                        &format!("{spec} ({})", file.filename),
                        &SafeUrl::from(file.url),
                        &[digest],
                    )
                    .await
                    .map_err(RestoreError::from)?;
                let chosen = Chosen {
                    name: requirement.name.clone(),
                    filename: file.filename,
                    blob: fetched.blob.path,
                };
                if let Some(sink) = &sink {
                    // A closed receiver means the installer failed; its error is reported.
                    let _ = sink.send(chosen.clone());
                }
                out.push(chosen);
            }
            if let Some(body) = fresh {
                fetcher.remember(&page, &body)?;
            }
            Ok::<_, anyhow::Error>(out)
        });
    }
    drop(sink);
    let placed = crate::fetcher::join_all(tasks).await?;
    summary.packages += placed.len();
    Ok(placed.into_iter().flatten().collect())
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
            "# comment\n# a comment with #hash in it\n--index-url https://x/simple/\nrequests[socks]==2.31.0 ; python_version >= \"3.8\" \\\n    --hash=sha256:{hash} \\\n    --hash=sha256:{}\n\nidna==3.4 --hash=sha256:{hash}  # trailing\n",
            "b".repeat(64)
        );
        let (requirements, notes) =
            parse_requirements(Path::new("requirements.txt"), &text).unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(requirements.len(), 2);
        assert_eq!(requirements[0].name, "requests");
        assert_eq!(requirements[0].version, "2.31.0");
        assert_eq!(requirements[0].hashes.len(), 2);
        assert_eq!(requirements[0].origin, "requirements.txt:4");
        assert_eq!(requirements[1].origin, "requirements.txt:8");
        let error = parse_requirements(Path::new("r.txt"), "flask>=2\n").unwrap_err();
        assert_eq!(error.origin, "r.txt:1");
        let error = parse_requirements(Path::new("r.txt"), "\nflask==2.0\n").unwrap_err();
        assert!(
            error.to_string().contains("r.txt:2") && error.message.contains("--hash"),
            "{error}"
        );
    }

    fn requirement(hashes: &[&Digest], marker: Option<&str>) -> Requirement {
        Requirement {
            name: "demo".into(),
            version: "1.0".into(),
            hashes: hashes.iter().map(|digest| (*digest).clone()).collect(),
            marker: marker.map(str::to_owned),
            origin: "requirements.txt:1".into(),
        }
    }

    fn digest(seed: u8) -> Digest {
        Digest::from_hex(Algorithm::Sha256, &format!("{seed:02x}").repeat(32)).unwrap()
    }

    /// A PEP 691 page of `files`: name, seed of its sha256, requires-python, yanked.
    fn page(files: &[(&str, u8, Option<&str>, bool)]) -> Vec<u8> {
        let files: Vec<serde_json::Value> = files
            .iter()
            .map(|(name, seed, requires_python, yanked)| {
                serde_json::json!({
                    "filename": name,
                    "url": format!("/f/{name}"),
                    "hashes": {"sha256": digest(*seed).hex()},
                    "requires-python": requires_python,
                    "yanked": yanked,
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({ "files": files })).unwrap()
    }

    fn cp311() -> Selection {
        let facts = super::super::tags::linux_cp311_facts();
        let target =
            super::super::tags::target_from(&facts, &super::super::tags::TargetArgs::default())
                .unwrap();
        Selection::new(Some(&target))
    }

    fn chosen(body: &[u8], pinned: &[u8], selection: &Selection) -> Result<Vec<String>, Unchosen> {
        let hashes: Vec<Digest> = pinned.iter().map(|seed| digest(*seed)).collect();
        let requirement = requirement(&hashes.iter().collect::<Vec<_>>(), None);
        let page_url = SafeUrl::from(url::Url::parse("http://h/simple/demo/").unwrap());
        pinned_files(&requirement, &page_url, body, None, selection)
            .map(|files| files.into_iter().map(|(file, _)| file.filename).collect())
    }

    #[test]
    fn the_file_pip_would_install_is_chosen() {
        let body = page(&[
            ("demo-1.0.tar.gz", 1, None, false),
            ("demo-1.0-py3-none-any.whl", 2, None, false),
            (
                "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                3,
                None,
                false,
            ),
            (
                "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                4,
                None,
                false,
            ),
            (
                "demo-1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
                5,
                None,
                false,
            ),
            ("demo-1.0-cp311-cp311-win_amd64.whl", 6, None, false),
            (
                "demo-1.0-cp311-cp311-musllinux_1_2_x86_64.whl",
                7,
                None,
                false,
            ),
            (
                "demo-1.0-2-cp311-cp311-manylinux_2_17_x86_64.whl",
                8,
                None,
                false,
            ),
            (
                "demo-1.0-10-cp311-cp311-manylinux_2_17_x86_64.whl",
                9,
                None,
                false,
            ),
            (
                "demo-1.0-cp311-abi3-manylinux_2_36_x86_64.whl",
                10,
                Some(">=3.12"),
                false,
            ),
            ("demo-1.0-cp311-cp311-linux_x86_64.whl", 11, None, true),
        ]);
        let target = cp311();
        // The newest manylinux glibc this interpreter runs beats older ones and the
        // pure-Python wheel, whatever the page order.
        assert_eq!(
            chosen(&body, &[1, 2, 3, 4, 5, 6, 7], &target),
            Ok(vec![
                "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl".to_owned()
            ])
        );
        assert_eq!(
            chosen(&body, &[2, 3], &target),
            Ok(vec![
                "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl".to_owned()
            ])
        );
        // Among equal tags, the highest build number (10 > 2 > none).
        assert_eq!(
            chosen(&body, &[3, 8, 9], &target),
            Ok(vec![
                "demo-1.0-10-cp311-cp311-manylinux_2_17_x86_64.whl".to_owned()
            ])
        );
        // An sdist only when no wheel fits; a file requires-python excludes is skipped.
        assert_eq!(
            chosen(&body, &[1, 2], &target),
            Ok(vec!["demo-1.0-py3-none-any.whl".to_owned()])
        );
        assert_eq!(
            chosen(&body, &[1, 5, 6, 7, 10], &target),
            Ok(vec!["demo-1.0.tar.gz".to_owned()])
        );
        // A yanked file only when nothing else fits, even with the best tag.
        assert_eq!(
            chosen(&body, &[4, 11], &target),
            Ok(vec![
                "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl".to_owned()
            ])
        );
        assert_eq!(
            chosen(&body, &[11], &target),
            Ok(vec!["demo-1.0-cp311-cp311-linux_x86_64.whl".to_owned()])
        );
        let Err(Unchosen::Incompatible(refused)) = chosen(&body, &[5, 6, 10], &target) else {
            panic!("nothing installs on cp311 here");
        };
        assert_eq!(refused.len(), 3, "{refused:?}");
        assert!(
            refused[2].contains("requires-python `>=3.12`"),
            "{refused:?}"
        );
        assert_eq!(chosen(&body, &[99], &target), Err(Unchosen::NonePinned));
        // Every platform: every pinned file, a pure-Python wheel alone when pinned.
        assert_eq!(
            chosen(&body, &[1, 5, 6], &Selection::AllPlatforms)
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            chosen(&body, &[1, 2, 5], &Selection::AllPlatforms),
            Ok(vec!["demo-1.0-py3-none-any.whl".to_owned()])
        );
    }

    #[test]
    fn markers_decide_which_requirements_the_target_installs() {
        let target = cp311();
        let hash = digest(1);
        for (marker, expected) in [
            (None, true),
            (Some("python_full_version < '3.12'"), true),
            (Some("python_full_version >= '3.12'"), false),
            (Some("sys_platform == 'win32'"), false),
        ] {
            let requirement = requirement(&[&hash], marker);
            assert_eq!(
                marker_holds(&requirement, &target),
                Ok(expected),
                "{marker:?}"
            );
            assert_eq!(
                marker_holds(&requirement, &Selection::AllPlatforms),
                Ok(true)
            );
        }
        assert!(marker_holds(&requirement(&[&hash], Some("nonsense <")), &target).is_err());
        // Two lines pinning one version: installed when either marker holds.
        let merged = merge(vec![
            requirement(&[&hash], Some("sys_platform == 'win32'")),
            requirement(&[&digest(2)], Some("python_version >= '3.8'")),
        ]);
        assert_eq!(merged.len(), 1);
        assert_eq!(marker_holds(&merged[0], &target), Ok(true));
        let (parsed, _) = parse_requirements(
            Path::new("r.txt"),
            &format!(
                "numpy==2.4.6 ; python_full_version < '3.12' \\\n    --hash=sha256:{}\n",
                hash.hex()
            ),
        )
        .unwrap();
        assert_eq!(
            parsed[0].marker.as_deref(),
            Some("python_full_version < '3.12'")
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
        assert_eq!(files[0].requires_python.as_deref(), Some(">=3"));
        assert!(!files[0].yanked);
        let yanked = parse_project_page(
            &page,
            b"<a href=\"/f/a-1.0.tar.gz\" data-yanked=\"broken\" data-requires-python='&lt;4'>a</a><a href=\"/f/b.tar.gz\" data-yanked>b</a>",
            false,
        );
        assert!(yanked[0].yanked && yanked[1].yanked);
        assert_eq!(yanked[0].requires_python.as_deref(), Some("<4"));
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
