//! Restore Maven artifacts into a local repository (`~/.m2/repository` layout) so `mvn -o`
//! resolves them.
//!
//! Inputs: a plain list of `group:artifact:version[:classifier][@ext]`, Gradle's
//! `gradle.lockfile` (`group:artifact:version=configurations`), and the maven-lockfile
//! plugin's `lockfile.json` (nested `dependencies` with `checksumAlgorithm` + `checksum`).
//! Every artifact's POM comes too, with its parent POMs and imported BOMs, since Maven reads
//! them to build the model. Files are verified against the lockfile's checksum when it has
//! one, else against the repository's `.sha1` sidecar, and recorded in
//! `_remote.repositories` (Maven Resolver's enhanced local repository tracking) so Maven
//! accepts them offline.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cas::{Algorithm, Blob, Digest};
use crate::fetcher::{Fetcher, RestoreError, Summary};
use crate::secret::SafeUrl;

/// Which input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `group:artifact:version[:classifier][@ext]` per line.
    Coordinates,
    /// `gradle.lockfile`.
    Gradle,
    /// maven-lockfile's `lockfile.json`.
    MavenLockfile,
}

/// One artifact to restore.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Artifact {
    /// groupId.
    pub group: String,
    /// artifactId.
    pub artifact: String,
    /// version.
    pub version: String,
    /// classifier.
    pub classifier: Option<String>,
    /// Extension; `None` means "from the POM's packaging".
    pub extension: Option<String>,
    /// The lockfile's checksum of the file.
    pub checksum: Option<Digest>,
}

impl Artifact {
    fn coordinates(&self) -> String {
        format!("{}:{}:{}", self.group, self.artifact, self.version)
    }

    fn directory(&self) -> String {
        format!(
            "{}/{}/{}",
            self.group.replace('.', "/"),
            self.artifact,
            self.version
        )
    }

    fn file_name(&self, extension: &str) -> String {
        match &self.classifier {
            Some(classifier) => format!(
                "{}-{}-{classifier}.{extension}",
                self.artifact, self.version
            ),
            None => format!("{}-{}.{extension}", self.artifact, self.version),
        }
    }

    fn pom_name(&self) -> String {
        format!("{}-{}.pom", self.artifact, self.version)
    }
}

fn valid_part(part: &str) -> bool {
    !part.is_empty() && part != "." && part != ".." && !part.contains(['/', '\\', '$', '{', '}'])
}

/// Parse one `group:artifact:version[:classifier][@ext]`.
#[must_use]
pub fn parse_coordinates(text: &str) -> Option<Artifact> {
    let (coordinates, extension) = match text.split_once('@') {
        Some((coordinates, extension)) => (coordinates, Some(extension.to_owned())),
        None => (text, None),
    };
    let parts: Vec<&str> = coordinates.split(':').collect();
    let (group, artifact, version, classifier) = match parts.as_slice() {
        [group, artifact, version] => (*group, *artifact, *version, None),
        [group, artifact, version, classifier] => {
            (*group, *artifact, *version, Some((*classifier).to_owned()))
        }
        _ => return None,
    };
    let all_valid = [group, artifact, version].into_iter().all(valid_part)
        && classifier.as_deref().is_none_or(valid_part)
        && extension.as_deref().is_none_or(valid_part);
    all_valid.then(|| Artifact {
        group: group.to_owned(),
        artifact: artifact.to_owned(),
        version: version.to_owned(),
        classifier,
        extension,
        checksum: None,
    })
}

/// Read an input file into artifacts.
///
/// # Errors
/// A line or entry that is not a coordinate, naming `file:line`.
pub fn read(format: Format, path: &Path) -> anyhow::Result<Vec<Artifact>> {
    let text = fs_err::read_to_string(path)?;
    parse(format, path, &text)
}

/// Parse the text of an input file read from `path` (named in errors) into artifacts.
///
/// # Errors
/// A line or entry that is not a coordinate, naming `file:line`.
pub fn parse(format: Format, path: &Path, text: &str) -> anyhow::Result<Vec<Artifact>> {
    let mut artifacts = Vec::new();
    match format {
        Format::Coordinates | Format::Gradle => {
            for (index, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') || line.starts_with("empty=") {
                    continue;
                }
                let coordinates = if format == Format::Gradle {
                    line.split('=').next().unwrap_or(line)
                } else {
                    line
                };
                let artifact = parse_coordinates(coordinates).ok_or_else(|| {
                    anyhow::anyhow!(
                        "`{}:{}`: `{line}` is not `group:artifact:version[:classifier][@ext]`",
                        path.display(),
                        index + 1
                    )
                })?;
                artifacts.push(artifact);
            }
        }
        Format::MavenLockfile => {
            let document: Value = serde_json::from_str(text).map_err(|error| {
                anyhow::anyhow!(
                    "`{}:{}:{}` is not valid JSON: {error}",
                    path.display(),
                    error.line(),
                    error.column()
                )
            })?;
            collect_lockfile(path, document.get("dependencies"), &mut artifacts)?;
        }
    }
    Ok(artifacts)
}

fn collect_lockfile(
    path: &Path,
    dependencies: Option<&Value>,
    out: &mut Vec<Artifact>,
) -> anyhow::Result<()> {
    for dependency in dependencies.and_then(Value::as_array).into_iter().flatten() {
        let field = |name: &str| {
            dependency
                .get(name)
                .and_then(Value::as_str)
                .filter(|value| !value.is_empty())
        };
        let (Some(group), Some(artifact), Some(version)) = (
            field("groupId"),
            field("artifactId"),
            field("version").or_else(|| field("selectedVersion")),
        ) else {
            anyhow::bail!(
                "`{}`: a dependency lacks groupId, artifactId or version: {dependency}",
                path.display()
            );
        };
        let mut text = format!("{group}:{artifact}:{version}");
        if let Some(classifier) = field("classifier") {
            text = format!("{text}:{classifier}");
        }
        let extension = field("type").map(|kind| if kind == "test-jar" { "jar" } else { kind });
        if let Some(extension) = extension {
            text = format!("{text}@{extension}");
        }
        let mut parsed = parse_coordinates(&text).ok_or_else(|| {
            anyhow::anyhow!("`{}`: `{text}` is not a valid coordinate", path.display())
        })?;
        if parsed.extension.is_none() {
            parsed.extension = Some("jar".to_owned());
        }
        if let (Some(algorithm), Some(checksum)) = (field("checksumAlgorithm"), field("checksum")) {
            parsed.checksum = Some(
                Algorithm::parse(algorithm)
                    .and_then(|algorithm| Digest::from_hex(algorithm, checksum))
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "`{}`: `{text}` has an unusable checksum `{algorithm}:{checksum}`",
                            path.display()
                        )
                    })?,
            );
        }
        if dependency.get("included").and_then(Value::as_bool) != Some(false) {
            out.push(parsed);
        }
        collect_lockfile(path, dependency.get("children"), out)?;
    }
    Ok(())
}

fn tag<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = block.find(&open)? + open.len();
    let end = block[start..].find(&close)? + start;
    Some(block[start..end].trim())
}

/// The POMs a POM needs: its parent and the BOMs it imports (`scope` `import`), when their
/// coordinates are literal.
#[must_use]
pub fn referenced_poms(pom: &str) -> Vec<Artifact> {
    let mut found = Vec::new();
    let mut push = |block: &str| {
        if let (Some(group), Some(artifact), Some(version)) = (
            tag(block, "groupId"),
            tag(block, "artifactId"),
            tag(block, "version"),
        ) && let Some(mut parsed) = parse_coordinates(&format!("{group}:{artifact}:{version}"))
        {
            parsed.extension = Some("pom".to_owned());
            found.push(parsed);
        }
    };
    if let Some(parent) = tag(pom, "parent") {
        push(parent);
    }
    if let Some(management) = tag(pom, "dependencyManagement") {
        for block in management.split("<dependency>").skip(1) {
            let block = block.split("</dependency>").next().unwrap_or(block);
            if tag(block, "scope") == Some("import") {
                push(block);
            }
        }
    }
    found
}

/// The extension of a POM's main artifact (`jar` for `jar`, `bundle`, `maven-plugin`...),
/// `None` for `pom` packaging.
#[must_use]
pub fn main_extension(pom: &str) -> Option<&'static str> {
    // The project's own `<packaging>` comes before `<build>`/`<profiles>`, where plugin
    // configurations could hold another.
    let head = pom.split("<build>").next().unwrap_or(pom);
    match tag(head, "packaging") {
        Some("pom") => None,
        Some("war") => Some("war"),
        Some("ear") => Some("ear"),
        _ => Some("jar"),
    }
}

async fn fetch_file(
    fetcher: &Fetcher,
    base: &url::Url,
    artifact: &Artifact,
    file_name: &str,
    pinned: Option<&Digest>,
) -> Result<(String, String, Blob), RestoreError> {
    let relative = format!("{}/{file_name}", artifact.directory());
    let url =
        SafeUrl::from(base.join(&relative).map_err(|error| {
            RestoreError::Invalid(format!("bad URL for `{relative}`: {error}"))
        })?);
    let package = format!("{} ({file_name})", artifact.coordinates());
    // Without a pinned checksum the repository's `.sha1` sidecar is the pin: remembered in
    // the store once the file verified against it, so a second restore makes no request.
    let mut fresh_sidecar = None;
    let digest = if let Some(digest) = pinned {
        digest.clone()
    } else {
        let sidecar = SafeUrl::from(
            base.join(&format!("{relative}.sha1"))
                .map_err(|error| RestoreError::Invalid(error.to_string()))?,
        );
        let body = if let Some(body) = fetcher.remembered(&sidecar) {
            body
        } else {
            let body = fetcher
                .document(&package, &sidecar, None, false)
                .await?
                .body;
            fresh_sidecar = Some((sidecar.clone(), body.clone()));
            body
        };
        let text = String::from_utf8_lossy(&body);
        crate::ecosystem::maven::ChecksumAlgorithm::claimed_digest(&text)
            .and_then(|hex_text| Digest::from_hex(Algorithm::Sha1, &hex_text))
            .ok_or_else(|| {
                RestoreError::Invalid(format!(
                    "the checksum {sidecar} of `{package}` is not a SHA-1"
                ))
            })?
    };
    let fetched = fetcher.verified(&package, &url, &[digest]).await?;
    if let Some((sidecar, body)) = fresh_sidecar {
        fetcher.remember(&sidecar, &body)?;
    }
    Ok((artifact.directory(), file_name.to_owned(), fetched.blob))
}

/// Restore `inputs` into the local repository `repo`.
///
/// # Errors
/// Unreadable inputs, failed or mismatched downloads, unwritable files.
pub async fn restore(
    fetcher: &Fetcher,
    endpoint: &SafeUrl,
    repo: &Path,
    repository_id: &str,
    inputs: &[(Format, PathBuf)],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut artifacts = BTreeSet::new();
    for (format, path) in inputs {
        artifacts.extend(read(*format, path)?);
    }
    summary.packages = artifacts.len();
    let mut base = endpoint.expose().clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    let mut placed: Vec<(String, String, Blob)> = Vec::new();
    let mut seen_poms = BTreeSet::new();
    // Breadth-first: each round fetches POMs (and main files) concurrently, then follows
    // the parents and BOMs those POMs name.
    let mut round: Vec<(Artifact, bool)> = artifacts
        .into_iter()
        .map(|artifact| (artifact, true))
        .collect();
    while !round.is_empty() {
        let mut tasks = tokio::task::JoinSet::new();
        for (artifact, main) in round.drain(..) {
            if !seen_poms.insert(artifact.coordinates()) && !main {
                continue;
            }
            let fetcher = fetcher.clone();
            let base = base.clone();
            tasks.spawn(async move {
                let (directory, name, pom) =
                    fetch_file(&fetcher, &base, &artifact, &artifact.pom_name(), None).await?;
                let text =
                    fs_err::read_to_string(&pom.path).map_err(RestoreError::io(&pom.path))?;
                let mut files = vec![(directory, name, pom)];
                if main {
                    let extension = match artifact.extension.as_deref() {
                        Some("pom") => None,
                        Some(extension) => Some(extension.to_owned()),
                        None => main_extension(&text).map(str::to_owned),
                    };
                    if let Some(extension) = extension {
                        files.push(
                            fetch_file(
                                &fetcher,
                                &base,
                                &artifact,
                                &artifact.file_name(&extension),
                                artifact.checksum.as_ref(),
                            )
                            .await?,
                        );
                    }
                }
                Ok::<_, RestoreError>((files, referenced_poms(&text)))
            });
        }
        for (files, referenced) in crate::fetcher::join_all(tasks).await? {
            placed.extend(files);
            round.extend(
                referenced
                    .into_iter()
                    .filter(|pom| !seen_poms.contains(&pom.coordinates()))
                    .map(|pom| (pom, false)),
            );
        }
    }
    let mut by_directory: BTreeMap<String, Vec<(String, Blob)>> = BTreeMap::new();
    for (directory, name, blob) in placed {
        by_directory
            .entry(directory)
            .or_default()
            .push((name, blob));
    }
    for (directory, files) in by_directory {
        let target = repo.join(&directory);
        for (name, blob) in &files {
            crate::cas::link_or_copy(&blob.path, &target.join(name))?;
        }
        record_remote(
            &target,
            files.iter().map(|(name, _)| name.as_str()),
            repository_id,
        )?;
    }
    Ok(())
}

/// Add `file>repository=` lines to `_remote.repositories`, keeping the ones there.
fn record_remote<'a>(
    directory: &Path,
    files: impl Iterator<Item = &'a str>,
    repository_id: &str,
) -> std::io::Result<()> {
    let path = directory.join("_remote.repositories");
    let existing = fs_err::read_to_string(&path).unwrap_or_default();
    let mut lines: BTreeSet<String> = existing
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    for file in files {
        lines.insert(format!("{file}>{repository_id}="));
    }
    let mut text = String::from(
        "#NOTE: This is a Maven Resolver internal implementation file, its format can be changed without prior notice.\n#written by lading restore\n",
    );
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    crate::fsx::replace_unsynced(&path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_parse_and_reject_paths() {
        let artifact = parse_coordinates("org.acme:lib:1.0:sources@jar").unwrap();
        assert_eq!(artifact.file_name("jar"), "lib-1.0-sources.jar");
        assert_eq!(artifact.directory(), "org/acme/lib/1.0");
        assert!(parse_coordinates("org.acme:lib").is_none());
        assert!(parse_coordinates("org.acme:..:1.0").is_none());
        assert!(parse_coordinates("org.acme:lib:${v}").is_none());
    }

    #[test]
    fn gradle_and_maven_lockfile_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let gradle = dir.path().join("gradle.lockfile");
        fs_err::write(&gradle, "# This is a Gradle generated file\ncom.google.guava:guava:32.1.2-jre=compileClasspath,runtimeClasspath\nempty=annotationProcessor\n").unwrap();
        let artifacts = read(Format::Gradle, &gradle).unwrap();
        assert_eq!(artifacts.len(), 1);
        assert_eq!(artifacts[0].version, "32.1.2-jre");
        let lockfile = dir.path().join("lockfile.json");
        let sha = "a".repeat(64);
        fs_err::write(&lockfile, format!(r#"{{"artifactId":"app","groupId":"g","version":"1","lockFileVersion":1,"dependencies":[{{"groupId":"org.a","artifactId":"b","version":"2","checksumAlgorithm":"SHA-256","checksum":"{sha}","scope":"compile","children":[{{"groupId":"org.c","artifactId":"d","version":"3","checksumAlgorithm":"SHA-256","checksum":"{sha}","children":[]}}]}}]}}"#)).unwrap();
        let artifacts = read(Format::MavenLockfile, &lockfile).unwrap();
        assert_eq!(artifacts.len(), 2);
        assert_eq!(
            artifacts[1].checksum.as_ref().unwrap().algorithm,
            Algorithm::Sha256
        );
        let bad = dir.path().join("coords.txt");
        fs_err::write(&bad, "ok:ok:1\nnot a coordinate\n").unwrap();
        assert!(
            read(Format::Coordinates, &bad)
                .unwrap_err()
                .to_string()
                .contains("coords.txt:2")
        );
    }

    #[test]
    fn poms_name_parents_boms_and_packaging() {
        let pom = "<project><parent><groupId>p</groupId><artifactId>parent</artifactId><version>1</version></parent><artifactId>x</artifactId><packaging>pom</packaging><dependencyManagement><dependencies><dependency><groupId>b</groupId><artifactId>bom</artifactId><version>2</version><type>pom</type><scope>import</scope></dependency><dependency><groupId>n</groupId><artifactId>normal</artifactId><version>3</version></dependency></dependencies></dependencyManagement></project>";
        let referenced: Vec<String> = referenced_poms(pom)
            .iter()
            .map(Artifact::coordinates)
            .collect();
        assert_eq!(referenced, ["p:parent:1", "b:bom:2"]);
        assert_eq!(main_extension(pom), None);
        assert_eq!(
            main_extension("<project><packaging>bundle</packaging></project>"),
            Some("jar")
        );
    }
}
