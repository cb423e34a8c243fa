//! Maven: repository-layout paths, artifact file names (including timestamped SNAPSHOT
//! builds), checksum sidecars, version ordering, and the `maven-metadata.xml` documents a
//! repository serves. Shared by `lading serve`'s Maven data plane and, later, the client side.
//!
//! Layout (PROTOCOLS.md §3.1):
//!
//! ```text
//! {group path}/{artifactId}/maven-metadata.xml                         artifact level
//! {group path}/{artifactId}/{X-SNAPSHOT}/maven-metadata.xml            snapshot version level
//! {group path}/{artifactId}/{version}/{artifactId}-{version}[-{classifier}].{extension}
//! ```
//!
//! where a SNAPSHOT file's `{version}` is `X-{yyyyMMdd.HHmmss}-{buildNumber}`, and any file
//! may carry a `.md5`, `.sha1`, `.sha256` or `.sha512` checksum sidecar.

pub mod doctor;
pub mod gradle;
pub mod login;
pub mod pack;
pub mod publish;
pub mod restore;
pub mod restorer;
pub mod serve;
pub mod settings;

use std::cmp::Ordering;
use std::fmt;

use quick_xml::events::{BytesDecl, BytesText, Event};

/// The file name of Maven repository metadata.
pub const METADATA_FILE: &str = "maven-metadata.xml";
/// The suffix of SNAPSHOT versions.
pub const SNAPSHOT_SUFFIX: &str = "-SNAPSHOT";

/// Why a repository path or file name is not one Maven uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MavenPathError {
    /// A path segment is empty, `.`, `..` or holds control characters.
    #[error("invalid path segment `{segment}`")]
    InvalidSegment {
        /// The offending segment.
        segment: String,
    },
    /// Too few segments for `{group}/{artifactId}/{version}/{file}`.
    #[error(
        "`{path}` is not a Maven repository path (expected `group/path/artifactId/version/file` or `group/path/artifactId/maven-metadata.xml`)"
    )]
    TooShort {
        /// The path.
        path: String,
    },
    /// The file name is not `{artifactId}-{version}[-{classifier}].{extension}`.
    #[error("file name `{file}` does not match `{artifact_id}-{version}[-classifier].extension`")]
    FileName {
        /// The file name.
        file: String,
        /// The artifactId from the path.
        artifact_id: String,
        /// The version from the path.
        version: String,
    },
}

/// Why uploaded `maven-metadata.xml` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// Not well-formed XML.
    #[error("`maven-metadata.xml` is not well-formed XML")]
    Xml(#[from] quick_xml::Error),
    /// Text that is not UTF-8.
    #[error("`maven-metadata.xml` holds text that is not UTF-8")]
    Encoding(#[from] quick_xml::encoding::EncodingError),
}

/// A checksum sidecar algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// `.md5`
    Md5,
    /// `.sha1`
    Sha1,
    /// `.sha256`
    Sha256,
    /// `.sha512`
    Sha512,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in the order sidecars are usually listed.
    pub const ALL: [Self; 4] = [Self::Md5, Self::Sha1, Self::Sha256, Self::Sha512];

    /// The sidecar extension without the dot.
    #[must_use]
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Split a checksum suffix off a file name: `a.jar.sha1` → (`a.jar`, `Some(Sha1)`).
    #[must_use]
    pub fn split(file_name: &str) -> (&str, Option<Self>) {
        for algorithm in Self::ALL {
            if let Some(base) = file_name
                .strip_suffix(algorithm.extension())
                .and_then(|rest| rest.strip_suffix('.'))
                .filter(|base| !base.is_empty())
            {
                return (base, Some(algorithm));
            }
        }
        (file_name, None)
    }

    /// The hex digest a sidecar body claims: its first whitespace-separated token (some old
    /// tools append `  filename`), lowercased.
    #[must_use]
    pub fn claimed_digest(body: &str) -> Option<String> {
        body.split_whitespace()
            .next()
            .map(str::to_ascii_lowercase)
            .filter(|token| token.bytes().all(|byte| byte.is_ascii_hexdigit()))
    }
}

/// A timestamped SNAPSHOT build: `20240501.120301-3`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotBuild {
    /// `yyyyMMdd.HHmmss` (UTC).
    pub timestamp: String,
    /// The build number, from 1.
    pub build_number: u32,
}

impl SnapshotBuild {
    /// Parse `yyyyMMdd.HHmmss-N`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let (timestamp, build_number) = text.split_once('-')?;
        let (date, time) = timestamp.split_once('.')?;
        let digits = |part: &str, length: usize| {
            part.len() == length && part.bytes().all(|byte| byte.is_ascii_digit())
        };
        if !digits(date, 8) || !digits(time, 6) || build_number.starts_with('+') {
            return None;
        }
        Some(Self {
            timestamp: timestamp.to_owned(),
            build_number: build_number.parse().ok().filter(|number| *number > 0)?,
        })
    }

    /// The version string of this build of `X-SNAPSHOT`: `X-20240501.120301-3`.
    #[must_use]
    pub fn version_of(&self, snapshot_version: &str) -> String {
        let base = snapshot_version
            .strip_suffix(SNAPSHOT_SUFFIX)
            .unwrap_or(snapshot_version);
        format!("{base}-{self}")
    }

    /// The timestamp without the dot (`yyyyMMddHHmmss`), as `<updated>` wants it.
    #[must_use]
    pub fn compact_timestamp(&self) -> String {
        self.timestamp.replace('.', "")
    }
}

impl fmt::Display for SnapshotBuild {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}-{}", self.timestamp, self.build_number)
    }
}

/// What an artifact file name says besides artifactId and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    /// The file name.
    pub name: String,
    /// Classifier (`sources`, `javadoc`, ...), if any.
    pub classifier: Option<String>,
    /// Extension without the leading dot (`jar`, `pom`, `tar.gz`, `jar.asc`).
    pub extension: String,
    /// For a SNAPSHOT version, the timestamped build the file belongs to (`None` for a
    /// non-unique `X-SNAPSHOT` file name).
    pub build: Option<SnapshotBuild>,
}

impl ArtifactFile {
    /// Parse `{artifactId}-{version}[-{classifier}].{extension}`; for a SNAPSHOT version the
    /// file's version may also be a timestamped build (`1.0-20240501.120301-3`).
    ///
    /// # Errors
    /// [`MavenPathError::FileName`] when the name does not fit.
    pub fn parse(
        artifact_id: &str,
        version: &str,
        file_name: &str,
    ) -> Result<Self, MavenPathError> {
        let error = || MavenPathError::FileName {
            file: file_name.to_owned(),
            artifact_id: artifact_id.to_owned(),
            version: version.to_owned(),
        };
        let after_artifact = file_name
            .strip_prefix(artifact_id)
            .and_then(|rest| rest.strip_prefix('-'))
            .ok_or_else(error)?;
        let (build, remainder) = if let Some(rest) = after_artifact.strip_prefix(version) {
            (None, rest)
        } else {
            let base = version
                .strip_suffix(SNAPSHOT_SUFFIX)
                .and_then(|base| after_artifact.strip_prefix(base))
                .and_then(|rest| rest.strip_prefix('-'))
                .ok_or_else(error)?;
            // yyyyMMdd.HHmmss-N, then `-classifier` or `.extension`.
            let stamp_end = base
                .char_indices()
                .skip(16)
                .find(|(_, character)| !character.is_ascii_digit())
                .map_or(base.len(), |(index, _)| index);
            let build = SnapshotBuild::parse(&base[..stamp_end]).ok_or_else(error)?;
            (Some(build), &base[stamp_end..])
        };
        let (classifier, extension) = if let Some(rest) = remainder.strip_prefix('-') {
            let (classifier, extension) = rest.split_once('.').ok_or_else(error)?;
            (Some(classifier.to_owned()), extension)
        } else if let Some(extension) = remainder.strip_prefix('.') {
            (None, extension)
        } else {
            return Err(error());
        };
        if extension.is_empty()
            || extension.starts_with('.')
            || extension.ends_with('.')
            || classifier.as_deref().is_some_and(str::is_empty)
        {
            return Err(error());
        }
        Ok(Self {
            name: file_name.to_owned(),
            classifier,
            extension: extension.to_owned(),
            build,
        })
    }
}

/// What a path under a Maven repository addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryPath {
    /// `{group}/{artifactId}/maven-metadata.xml`.
    ArtifactMetadata {
        /// groupId (`com.acme`).
        group_id: String,
        /// artifactId.
        artifact_id: String,
        /// A checksum sidecar of it.
        checksum: Option<ChecksumAlgorithm>,
    },
    /// `{group}/{artifactId}/{X-SNAPSHOT}/maven-metadata.xml`.
    VersionMetadata {
        /// groupId.
        group_id: String,
        /// artifactId.
        artifact_id: String,
        /// The `X-SNAPSHOT` version.
        version: String,
        /// A checksum sidecar of it.
        checksum: Option<ChecksumAlgorithm>,
    },
    /// An artifact file of a version.
    File {
        /// groupId.
        group_id: String,
        /// artifactId.
        artifact_id: String,
        /// The version directory (`1.0.0`, `1.0-SNAPSHOT`).
        version: String,
        /// The file.
        file: ArtifactFile,
        /// A checksum sidecar of it.
        checksum: Option<ChecksumAlgorithm>,
    },
}

impl RepositoryPath {
    /// Parse a decoded path relative to the repository root (no leading `/`).
    ///
    /// `a/b/c/maven-metadata.xml` is version-level metadata when `c` ends in `-SNAPSHOT`, and
    /// artifact-level (group `a.b`, artifact `c`) otherwise; group-level (plugin prefix)
    /// metadata has the same shape as artifact-level and is read as such.
    ///
    /// # Errors
    /// [`MavenPathError`] for paths that are not Maven repository paths.
    pub fn parse(path: &str) -> Result<Self, MavenPathError> {
        let segments: Vec<&str> = path.split('/').collect();
        for segment in &segments {
            if segment.is_empty()
                || *segment == "."
                || *segment == ".."
                || segment.chars().any(char::is_control)
            {
                return Err(MavenPathError::InvalidSegment {
                    segment: (*segment).to_owned(),
                });
            }
        }
        let too_short = || MavenPathError::TooShort {
            path: path.to_owned(),
        };
        let (file_name, directories) = segments.split_last().ok_or_else(too_short)?;
        let (base, checksum) = ChecksumAlgorithm::split(file_name);
        if base == METADATA_FILE {
            let (last, parents) = directories.split_last().ok_or_else(too_short)?;
            if last.ends_with(SNAPSHOT_SUFFIX) && parents.len() >= 2 {
                let (artifact_id, group) = parents.split_last().ok_or_else(too_short)?;
                return Ok(Self::VersionMetadata {
                    group_id: group.join("."),
                    artifact_id: (*artifact_id).to_owned(),
                    version: (*last).to_owned(),
                    checksum,
                });
            }
            if parents.is_empty() {
                return Err(too_short());
            }
            return Ok(Self::ArtifactMetadata {
                group_id: parents.join("."),
                artifact_id: (*last).to_owned(),
                checksum,
            });
        }
        if directories.len() < 3 {
            return Err(too_short());
        }
        let (version, rest) = directories.split_last().ok_or_else(too_short)?;
        let (artifact_id, group) = rest.split_last().ok_or_else(too_short)?;
        let file = ArtifactFile::parse(artifact_id, version, base)?;
        Ok(Self::File {
            group_id: group.join("."),
            artifact_id: (*artifact_id).to_owned(),
            version: (*version).to_owned(),
            file,
            checksum,
        })
    }
}

/// Whether a version is a SNAPSHOT (`1.0-SNAPSHOT`).
#[must_use]
pub fn is_snapshot(version: &str) -> bool {
    version.ends_with(SNAPSHOT_SUFFIX)
}

// ----- version ordering -----

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Number(u128),
    Qualifier(String),
}

/// Rank of well-known qualifiers, as Maven's `ComparableVersion` orders them; unknown
/// qualifiers sort after all of them, lexically.
fn qualifier_rank(qualifier: &str) -> (u8, &str) {
    match qualifier {
        "alpha" | "a" => (0, ""),
        "beta" | "b" => (1, ""),
        "milestone" | "m" => (2, ""),
        "rc" | "cr" => (3, ""),
        "snapshot" => (4, ""),
        "" | "ga" | "final" | "release" => (5, ""),
        "sp" => (6, ""),
        other => (7, other),
    }
}

fn items(version: &str) -> Vec<Item> {
    let lower = version.to_ascii_lowercase();
    let mut result = Vec::new();
    let mut current = String::new();
    let mut digits = false;
    let flush = |current: &mut String, digits: bool, result: &mut Vec<Item>| {
        if current.is_empty() {
            return;
        }
        let item = if digits {
            Item::Number(current.parse().unwrap_or(u128::MAX))
        } else {
            // `1.0-alpha` is `1-alpha`: zeros right before a qualifier do not count.
            while result.last() == Some(&Item::Number(0)) {
                result.pop();
            }
            Item::Qualifier(std::mem::take(current))
        };
        current.clear();
        result.push(item);
    };
    for character in lower.chars() {
        if character == '.' || character == '-' || character == '_' {
            flush(&mut current, digits, &mut result);
            continue;
        }
        let is_digit = character.is_ascii_digit();
        if !current.is_empty() && is_digit != digits {
            flush(&mut current, digits, &mut result);
        }
        digits = is_digit;
        current.push(character);
    }
    flush(&mut current, digits, &mut result);
    // Trailing zeros and release qualifiers do not count: 1.0 == 1 == 1.0.0 == 1-ga.
    while result.last().is_some_and(|item| match item {
        Item::Number(number) => *number == 0,
        Item::Qualifier(text) => qualifier_rank(text).0 == 5,
    }) {
        result.pop();
    }
    result
}

fn compare_items(left: Option<&Item>, right: Option<&Item>) -> Ordering {
    match (left, right) {
        (None, None) => Ordering::Equal,
        (Some(Item::Number(left)), Some(Item::Number(right))) => left.cmp(right),
        // A number is newer than a qualifier (1.1 > 1-rc) or than nothing (zeros were
        // trimmed, so 1.0.1 > 1.0).
        (Some(Item::Number(_)), Some(Item::Qualifier(_)) | None) => Ordering::Greater,
        (Some(Item::Qualifier(_)) | None, Some(Item::Number(_))) => Ordering::Less,
        (Some(Item::Qualifier(left)), Some(Item::Qualifier(right))) => {
            qualifier_rank(left).cmp(&qualifier_rank(right))
        }
        // A qualifier against nothing is compared with the release qualifier.
        (Some(Item::Qualifier(left)), None) => qualifier_rank(left).cmp(&qualifier_rank("")),
        (None, Some(Item::Qualifier(right))) => qualifier_rank("").cmp(&qualifier_rank(right)),
    }
}

/// Order two versions the way Maven does, closely enough for `<latest>` and `<release>`:
/// numeric parts numerically, `alpha < beta < milestone < rc < snapshot < release < sp`,
/// other qualifiers after those (lexically), and `1.0 == 1.0.0`.
#[must_use]
pub fn compare_versions(left: &str, right: &str) -> Ordering {
    let (left_items, right_items) = (items(left), items(right));
    let length = left_items.len().max(right_items.len());
    for index in 0..length {
        let ordering = compare_items(left_items.get(index), right_items.get(index));
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    // Equal by Maven's rules (1.0 vs 1.0.0): fall back to the text for a total order.
    left.cmp(right)
}

/// Epoch seconds as `yyyyMMddHHmmss` (UTC), the `<lastUpdated>` format.
#[must_use]
pub fn last_updated(epoch_seconds: f64) -> String {
    #[expect(clippy::cast_possible_truncation, reason = "epoch seconds fit in i64")]
    let seconds = epoch_seconds.floor() as i64;
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|moment| {
            moment
                .format(time::macros::format_description!(
                    "[year][month][day][hour][minute][second]"
                ))
                .ok()
        })
        .unwrap_or_else(|| "19700101000000".to_owned())
}

// ----- metadata documents -----

/// Artifact-level `maven-metadata.xml`: every version of `groupId:artifactId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactMetadata {
    /// groupId.
    pub group_id: String,
    /// artifactId.
    pub artifact_id: String,
    /// Versions, in any order (the document lists them oldest first by Maven ordering).
    pub versions: Vec<String>,
    /// `yyyyMMddHHmmss`.
    pub last_updated: String,
}

impl ArtifactMetadata {
    /// The document: `<latest>` is the highest version, `<release>` the highest that is not a
    /// SNAPSHOT (omitted when there is none).
    #[must_use]
    pub fn to_xml(&self) -> Vec<u8> {
        let mut versions = self.versions.clone();
        versions.sort_by(|left, right| compare_versions(left, right));
        versions.dedup();
        let latest = versions.last().cloned();
        let release = versions
            .iter()
            .rev()
            .find(|version| !is_snapshot(version))
            .cloned();
        write_document(|writer| {
            writer
                .create_element("metadata")
                .with_attribute(("modelVersion", "1.1.0"))
                .write_inner_content(|writer| {
                    text_element(writer, "groupId", &self.group_id)?;
                    text_element(writer, "artifactId", &self.artifact_id)?;
                    writer
                        .create_element("versioning")
                        .write_inner_content(|writer| {
                            if let Some(latest) = &latest {
                                text_element(writer, "latest", latest)?;
                            }
                            if let Some(release) = &release {
                                text_element(writer, "release", release)?;
                            }
                            writer
                                .create_element("versions")
                                .write_inner_content(|writer| {
                                    for version in &versions {
                                        text_element(writer, "version", version)?;
                                    }
                                    Ok(())
                                })?;
                            text_element(writer, "lastUpdated", &self.last_updated)?;
                            Ok(())
                        })?;
                    Ok(())
                })?;
            Ok(())
        })
    }
}

/// One file of the current build of a SNAPSHOT, for version-level metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// Classifier, if any.
    pub classifier: Option<String>,
    /// Extension.
    pub extension: String,
    /// The build the file belongs to.
    pub build: SnapshotBuild,
}

/// Version-level `maven-metadata.xml` of an `X-SNAPSHOT` version: which timestamped build
/// each classifier/extension resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotMetadata {
    /// groupId.
    pub group_id: String,
    /// artifactId.
    pub artifact_id: String,
    /// `X-SNAPSHOT`.
    pub version: String,
    /// Timestamped files of the SNAPSHOT, any builds.
    pub files: Vec<SnapshotFile>,
}

impl SnapshotMetadata {
    /// The newest build among the files.
    #[must_use]
    pub fn latest_build(&self) -> Option<&SnapshotBuild> {
        self.files.iter().map(|file| &file.build).max()
    }

    /// The document. `<snapshot>` names the newest build; each classifier/extension pair
    /// resolves to its newest build; `<lastUpdated>` is the newest build's timestamp, so the
    /// document (and its checksums) only change when a build lands. `None` without files.
    #[must_use]
    pub fn to_xml(&self) -> Option<Vec<u8>> {
        let latest = self.latest_build()?.clone();
        let mut newest: Vec<&SnapshotFile> = Vec::new();
        for file in &self.files {
            match newest.iter_mut().find(|known| {
                known.classifier == file.classifier && known.extension == file.extension
            }) {
                Some(known) if known.build < file.build => *known = file,
                Some(_) => {}
                None => newest.push(file),
            }
        }
        newest.sort_by(|left, right| {
            (&left.classifier, &left.extension).cmp(&(&right.classifier, &right.extension))
        });
        Some(write_document(|writer| {
            writer
                .create_element("metadata")
                .with_attribute(("modelVersion", "1.1.0"))
                .write_inner_content(|writer| {
                    text_element(writer, "groupId", &self.group_id)?;
                    text_element(writer, "artifactId", &self.artifact_id)?;
                    text_element(writer, "version", &self.version)?;
                    writer
                        .create_element("versioning")
                        .write_inner_content(|writer| {
                            writer
                                .create_element("snapshot")
                                .write_inner_content(|writer| {
                                    text_element(writer, "timestamp", &latest.timestamp)?;
                                    text_element(
                                        writer,
                                        "buildNumber",
                                        &latest.build_number.to_string(),
                                    )?;
                                    Ok(())
                                })?;
                            text_element(writer, "lastUpdated", &latest.compact_timestamp())?;
                            writer
                                .create_element("snapshotVersions")
                                .write_inner_content(|writer| {
                                    for file in &newest {
                                        writer
                                            .create_element("snapshotVersion")
                                            .write_inner_content(|writer| {
                                                if let Some(classifier) = &file.classifier {
                                                    text_element(writer, "classifier", classifier)?;
                                                }
                                                text_element(writer, "extension", &file.extension)?;
                                                text_element(
                                                    writer,
                                                    "value",
                                                    &file.build.version_of(&self.version),
                                                )?;
                                                text_element(
                                                    writer,
                                                    "updated",
                                                    &file.build.compact_timestamp(),
                                                )?;
                                                Ok(())
                                            })?;
                                    }
                                    Ok(())
                                })?;
                            Ok(())
                        })?;
                    Ok(())
                })?;
            Ok(())
        }))
    }
}

type XmlWriter = quick_xml::Writer<Vec<u8>>;

fn text_element(writer: &mut XmlWriter, name: &str, text: &str) -> std::io::Result<()> {
    writer
        .create_element(name)
        .write_text_content(BytesText::new(text))?;
    Ok(())
}

fn write_document(body: impl FnOnce(&mut XmlWriter) -> std::io::Result<()>) -> Vec<u8> {
    let mut writer = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail.
    let _ = writer
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .and_then(|()| body(&mut writer));
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    bytes
}

/// The `<versioning><versions><version>` entries of an uploaded `maven-metadata.xml`
/// (empty for group-level or version-level documents).
///
/// # Errors
/// [`MetadataError`] when the document is not well-formed.
pub fn listed_versions(document: &[u8]) -> Result<Vec<String>, MetadataError> {
    let mut reader = quick_xml::Reader::from_reader(document);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let mut versions = Vec::new();
    loop {
        match reader.read_event()? {
            Event::Start(start) => {
                path.push(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(text)
                if path.iter().map(String::as_str).eq([
                    "metadata",
                    "versioning",
                    "versions",
                    "version",
                ]) =>
            {
                versions.push(text.decode()?.trim().to_owned());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(versions)
}

/// The Maven format's implementation: its capabilities (see [`crate::ecosystem::registry`]).
#[derive(Debug, Clone, Copy)]
pub struct Maven;

impl crate::ecosystem::capabilities::Ecosystem for Maven {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Maven
    }

    fn pack(&self) -> Option<&dyn crate::ecosystem::pack::Pack> {
        Some(self)
    }

    fn publish(&self) -> Option<&dyn crate::ecosystem::publish::Publish> {
        Some(self)
    }

    fn data_plane(&self) -> Option<&'static dyn crate::server::data_plane::DataPlane> {
        Some(&serve::MavenDataPlane)
    }

    fn configure(&self) -> Option<&dyn crate::ecosystem::configure::Configure> {
        Some(self)
    }

    fn restore(&self) -> Option<&dyn crate::ecosystem::restore::Restore> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(version: &str, name: &str) -> ArtifactFile {
        ArtifactFile::parse("lib", version, name).unwrap()
    }

    #[test]
    fn artifact_file_names_are_split_into_classifier_and_extension() {
        let jar = file("1.0.0", "lib-1.0.0.jar");
        assert_eq!(
            (jar.classifier, jar.extension.as_str(), jar.build),
            (None, "jar", None)
        );
        let sources = file("1.0.0", "lib-1.0.0-sources.jar");
        assert_eq!(sources.classifier.as_deref(), Some("sources"));
        assert_eq!(file("1.0.0", "lib-1.0.0.tar.gz").extension, "tar.gz");
        assert_eq!(file("1.0.0", "lib-1.0.0.jar.asc").extension, "jar.asc");
        for bad in [
            "lib-1.0.0",
            "lib-1.0.1.jar",
            "other-1.0.0.jar",
            "lib-1.0.0-.jar",
            "lib-1.0.0.",
            "lib-1.0.0-sources",
            "lib-1.0.0x.jar",
        ] {
            assert!(
                ArtifactFile::parse("lib", "1.0.0", bad).is_err(),
                "{bad} must be refused"
            );
        }
    }

    #[test]
    fn snapshot_file_names_carry_their_build() {
        let jar = file("1.0-SNAPSHOT", "lib-1.0-20240501.120301-3.jar");
        assert_eq!(
            jar.build,
            Some(SnapshotBuild {
                timestamp: "20240501.120301".into(),
                build_number: 3
            })
        );
        assert_eq!(jar.extension, "jar");
        let sources = file("1.0-SNAPSHOT", "lib-1.0-20240501.120301-12-sources.jar");
        assert_eq!(sources.classifier.as_deref(), Some("sources"));
        assert_eq!(sources.build.unwrap().build_number, 12);
        let plain = file("1.0-SNAPSHOT", "lib-1.0-SNAPSHOT.pom");
        assert_eq!((plain.build, plain.extension.as_str()), (None, "pom"));
        for bad in [
            "lib-1.0-2024050.120301-3.jar",
            "lib-1.0-20240501.120301-0.jar",
            "lib-1.0-20240501.120301.jar",
            "lib-1.1-20240501.120301-1.jar",
        ] {
            assert!(
                ArtifactFile::parse("lib", "1.0-SNAPSHOT", bad).is_err(),
                "{bad} must be refused"
            );
        }
        assert!(ArtifactFile::parse("lib", "1.0.0", "lib-1.0-20240501.120301-3.jar").is_err());
    }

    #[test]
    fn repository_paths_are_classified() {
        assert_eq!(
            RepositoryPath::parse("com/acme/lib/maven-metadata.xml").unwrap(),
            RepositoryPath::ArtifactMetadata {
                group_id: "com.acme".into(),
                artifact_id: "lib".into(),
                checksum: None
            }
        );
        assert_eq!(
            RepositoryPath::parse("com/acme/lib/1.0-SNAPSHOT/maven-metadata.xml.sha1").unwrap(),
            RepositoryPath::VersionMetadata {
                group_id: "com.acme".into(),
                artifact_id: "lib".into(),
                version: "1.0-SNAPSHOT".into(),
                checksum: Some(ChecksumAlgorithm::Sha1),
            }
        );
        let RepositoryPath::File {
            group_id,
            artifact_id,
            version,
            file,
            checksum,
        } = RepositoryPath::parse("com/acme/tools/lib/2.1/lib-2.1-sources.jar.sha512").unwrap()
        else {
            panic!("not a file");
        };
        assert_eq!(
            (
                group_id.as_str(),
                artifact_id.as_str(),
                version.as_str(),
                file.name.as_str(),
                checksum
            ),
            (
                "com.acme.tools",
                "lib",
                "2.1",
                "lib-2.1-sources.jar",
                Some(ChecksumAlgorithm::Sha512)
            )
        );
        for bad in [
            "lib/1.0/lib-1.0.jar",
            "maven-metadata.xml",
            "com//lib/1.0/lib-1.0.jar",
            "com/../lib/1.0/lib-1.0.jar",
            "com/acme/lib/1.0/readme.txt",
        ] {
            assert!(RepositoryPath::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn checksum_sidecars_are_split_and_read() {
        assert_eq!(
            ChecksumAlgorithm::split("a.jar.sha256"),
            ("a.jar", Some(ChecksumAlgorithm::Sha256))
        );
        assert_eq!(ChecksumAlgorithm::split("a.jar"), ("a.jar", None));
        assert_eq!(ChecksumAlgorithm::split(".md5"), (".md5", None));
        assert_eq!(
            ChecksumAlgorithm::claimed_digest("ABCdef01  lib-1.0.jar\n").as_deref(),
            Some("abcdef01")
        );
        assert_eq!(ChecksumAlgorithm::claimed_digest("not hex"), None);
        assert_eq!(ChecksumAlgorithm::claimed_digest("  "), None);
    }

    #[test]
    fn versions_are_ordered_like_maven() {
        let mut versions = vec![
            "1.10.0",
            "1.2.0",
            "1.0-SNAPSHOT",
            "1.0",
            "1.0-rc-1",
            "1.0-alpha-2",
            "1.0-beta",
            "1.0.1",
            "1.0-sp1",
            "2.0.0-M1",
        ];
        versions.sort_by(|left, right| compare_versions(left, right));
        assert_eq!(
            versions,
            vec![
                "1.0-alpha-2",
                "1.0-beta",
                "1.0-rc-1",
                "1.0-SNAPSHOT",
                "1.0",
                "1.0-sp1",
                "1.0.1",
                "1.2.0",
                "1.10.0",
                "2.0.0-M1",
            ]
        );
        assert_eq!(
            compare_versions("1.0", "1.0.0").then(Ordering::Equal),
            Ordering::Less
        );
        assert_eq!(
            items("1.0.0"),
            items("1-ga"),
            "trailing zeros and release qualifiers are ignored"
        );
    }

    #[test]
    fn artifact_metadata_lists_versions_with_latest_and_release() {
        let metadata = ArtifactMetadata {
            group_id: "com.acme".into(),
            artifact_id: "lib".into(),
            versions: vec!["1.1.0".into(), "2.0-SNAPSHOT".into(), "1.0.0".into()],
            last_updated: last_updated(1_714_564_981.5),
        };
        let xml = String::from_utf8(metadata.to_xml()).unwrap();
        insta::assert_snapshot!(xml, @r#"
        <?xml version="1.0" encoding="UTF-8"?>
        <metadata modelVersion="1.1.0">
          <groupId>com.acme</groupId>
          <artifactId>lib</artifactId>
          <versioning>
            <latest>2.0-SNAPSHOT</latest>
            <release>1.1.0</release>
            <versions>
              <version>1.0.0</version>
              <version>1.1.0</version>
              <version>2.0-SNAPSHOT</version>
            </versions>
            <lastUpdated>20240501120301</lastUpdated>
          </versioning>
        </metadata>
        "#);
        assert_eq!(
            listed_versions(xml.as_bytes()).unwrap(),
            vec!["1.0.0", "1.1.0", "2.0-SNAPSHOT"]
        );
    }

    #[test]
    fn snapshot_metadata_points_each_file_at_its_newest_build() {
        let build = |timestamp: &str, build_number| SnapshotBuild {
            timestamp: timestamp.into(),
            build_number,
        };
        let metadata = SnapshotMetadata {
            group_id: "com.acme".into(),
            artifact_id: "lib".into(),
            version: "1.0-SNAPSHOT".into(),
            files: vec![
                SnapshotFile {
                    classifier: None,
                    extension: "jar".into(),
                    build: build("20240501.120301", 1),
                },
                SnapshotFile {
                    classifier: None,
                    extension: "jar".into(),
                    build: build("20240502.080000", 2),
                },
                SnapshotFile {
                    classifier: None,
                    extension: "pom".into(),
                    build: build("20240502.080000", 2),
                },
                SnapshotFile {
                    classifier: Some("sources".into()),
                    extension: "jar".into(),
                    build: build("20240501.120301", 1),
                },
            ],
        };
        let xml = String::from_utf8(metadata.to_xml().unwrap()).unwrap();
        insta::assert_snapshot!(xml, @r#"
        <?xml version="1.0" encoding="UTF-8"?>
        <metadata modelVersion="1.1.0">
          <groupId>com.acme</groupId>
          <artifactId>lib</artifactId>
          <version>1.0-SNAPSHOT</version>
          <versioning>
            <snapshot>
              <timestamp>20240502.080000</timestamp>
              <buildNumber>2</buildNumber>
            </snapshot>
            <lastUpdated>20240502080000</lastUpdated>
            <snapshotVersions>
              <snapshotVersion>
                <extension>jar</extension>
                <value>1.0-20240502.080000-2</value>
                <updated>20240502080000</updated>
              </snapshotVersion>
              <snapshotVersion>
                <extension>pom</extension>
                <value>1.0-20240502.080000-2</value>
                <updated>20240502080000</updated>
              </snapshotVersion>
              <snapshotVersion>
                <classifier>sources</classifier>
                <extension>jar</extension>
                <value>1.0-20240501.120301-1</value>
                <updated>20240501120301</updated>
              </snapshotVersion>
            </snapshotVersions>
          </versioning>
        </metadata>
        "#);
        assert!(listed_versions(xml.as_bytes()).unwrap().is_empty());
        assert!(
            SnapshotMetadata {
                files: Vec::new(),
                ..metadata
            }
            .to_xml()
            .is_none()
        );
    }

    #[test]
    fn malformed_metadata_is_an_error() {
        assert!(listed_versions(b"<metadata><versioning></metadata>").is_err());
    }
}
