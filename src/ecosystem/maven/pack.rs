//! Maven packing: `<artifactId>-<version>.jar` from a directory of classes and resources,
//! the pom (given, or generated from the coordinates), and optional `-sources` / `-javadoc`
//! classifier jars. Jars carry `META-INF/MANIFEST.MF` first (what `JarInputStream` expects)
//! and the pom under `META-INF/maven/<groupId>/<artifactId>/`, as maven-jar-plugin writes.

use std::path::{Path, PathBuf};

use quick_xml::events::Event;

use crate::archive::{ArchiveError, Entry, SelectedFile, SourceDate};
use crate::ecosystem::{Packed, PackedContents, PackedFile};

/// Why a Maven package could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum MavenPackError {
    /// The name is not `groupId:artifactId`.
    #[error("`{name}` is not Maven coordinates: use `groupId:artifactId` (`com.acme:tool`)")]
    BadCoordinates {
        /// The name given.
        name: String,
    },
    /// The pom could not be read.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The pom is not well-formed or lacks coordinates.
    #[error("`{path}` is not a usable pom: {message}")]
    BadPom {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The pom's coordinates differ from those asked for.
    #[error("`{path}` declares `{found}`, but `{expected}` was asked for")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// From the pom.
        found: String,
        /// From the command line.
        expected: String,
    },
    /// Neither a name nor a pom.
    #[error("Maven packages need `--name groupId:artifactId` and `--version`, or `--pom`")]
    NoCoordinates,
    /// Writing a jar failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// Maven coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinates {
    /// groupId.
    pub group_id: String,
    /// artifactId.
    pub artifact_id: String,
    /// version.
    pub version: String,
}

impl std::fmt::Display for Coordinates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.group_id, self.artifact_id, self.version)
    }
}

fn valid_part(part: &str) -> bool {
    !part.is_empty()
        && part.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-')
        })
}

/// Parse `groupId:artifactId` and a version.
///
/// # Errors
/// [`MavenPackError::BadCoordinates`].
pub fn parse_name(name: &str, version: &str) -> Result<Coordinates, MavenPackError> {
    let bad = || MavenPackError::BadCoordinates {
        name: name.to_owned(),
    };
    let (group_id, artifact_id) = name.split_once(':').ok_or_else(bad)?;
    if !valid_part(group_id) || !valid_part(artifact_id) || !valid_part(version) {
        return Err(bad());
    }
    Ok(Coordinates {
        group_id: group_id.to_owned(),
        artifact_id: artifact_id.to_owned(),
        version: version.to_owned(),
    })
}

/// Read groupId (or the parent's), artifactId and version from pom text.
///
/// # Errors
/// A message naming what is missing or malformed.
pub fn pom_coordinates(text: &str) -> Result<Coordinates, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let (mut group, mut parent_group, mut artifact, mut version, mut parent_version) =
        (None, None, None, None, None);
    loop {
        match reader.read_event().map_err(|error| error.to_string())? {
            Event::Start(start) => {
                path.push(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(text) => {
                let value = text
                    .decode()
                    .map_err(|error| error.to_string())?
                    .trim()
                    .to_owned();
                let joined = path.join("/");
                match joined.as_str() {
                    "project/groupId" => group = Some(value),
                    "project/parent/groupId" => parent_group = Some(value),
                    "project/artifactId" => artifact = Some(value),
                    "project/version" => version = Some(value),
                    "project/parent/version" => parent_version = Some(value),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(Coordinates {
        group_id: group.or(parent_group).ok_or("no <groupId>")?,
        artifact_id: artifact.ok_or("no <artifactId>")?,
        version: version.or(parent_version).ok_or("no <version>")?,
    })
}

/// A minimal pom for coordinates with no pom of their own.
#[must_use]
pub fn generate_pom(coordinates: &Coordinates) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd\">\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>{}</groupId>\n  <artifactId>{}</artifactId>\n  <version>{}</version>\n  <packaging>jar</packaging>\n</project>\n",
        coordinates.group_id, coordinates.artifact_id, coordinates.version
    )
}

/// Inputs of a Maven pack.
#[derive(Debug, Clone, Default)]
pub struct MavenInputs<'a> {
    /// `groupId:artifactId` from `--name`.
    pub name: Option<&'a str>,
    /// `--version`.
    pub version: Option<&'a str>,
    /// `--pom`.
    pub pom: Option<&'a Path>,
    /// Classes and resources for the main jar.
    pub classes: &'a [SelectedFile],
    /// Files for the `-sources` jar.
    pub sources: Option<&'a [SelectedFile]>,
    /// Files for the `-javadoc` jar.
    pub javadoc: Option<&'a [SelectedFile]>,
}

fn jar(
    files: &[SelectedFile],
    coordinates: &Coordinates,
    pom: &str,
    date: SourceDate,
) -> Result<Vec<u8>, ArchiveError> {
    let meta = format!(
        "META-INF/maven/{}/{}/",
        coordinates.group_id, coordinates.artifact_id
    );
    let mut entries: Vec<Entry> = files
        .iter()
        .filter(|file| file.relative != "META-INF/MANIFEST.MF")
        .map(|file| Entry::file(file.relative.clone(), file.path.clone(), false))
        .collect();
    entries.push(Entry::bytes(
        format!("{meta}pom.xml"),
        pom.as_bytes().to_vec(),
    ));
    entries.push(Entry::bytes(
        format!("{meta}pom.properties"),
        format!(
            "artifactId={}\ngroupId={}\nversion={}\n",
            coordinates.artifact_id, coordinates.group_id, coordinates.version
        )
        .into_bytes(),
    ));
    crate::archive::sort_entries(&mut entries);
    entries.insert(
        0,
        Entry::bytes(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\r\nCreated-By: lading\r\n\r\n".to_vec(),
        ),
    );
    Ok(crate::archive::write_zip(&entries, date, std::io::Cursor::new(Vec::new()))?.into_inner())
}

/// Pack the jar, pom and classifier jars.
///
/// # Errors
/// [`MavenPackError`].
pub fn pack(inputs: &MavenInputs<'_>, date: SourceDate) -> Result<Packed, MavenPackError> {
    let (coordinates, pom) = if let Some(path) = inputs.pom {
        let text = fs_err::read_to_string(path).map_err(|source| MavenPackError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let found = pom_coordinates(&text).map_err(|message| MavenPackError::BadPom {
            path: path.to_path_buf(),
            message,
        })?;
        if let Some(name) = inputs.name {
            let expected = parse_name(name, inputs.version.unwrap_or(&found.version))?;
            if expected != found {
                return Err(MavenPackError::Mismatch {
                    path: path.to_path_buf(),
                    found: found.to_string(),
                    expected: expected.to_string(),
                });
            }
        }
        (found, text)
    } else {
        let coordinates = parse_name(
            inputs.name.ok_or(MavenPackError::NoCoordinates)?,
            inputs.version.ok_or(MavenPackError::NoCoordinates)?,
        )?;
        let pom = generate_pom(&coordinates);
        (coordinates, pom)
    };
    let base = format!("{}-{}", coordinates.artifact_id, coordinates.version);
    let purl = |qualifiers: &str| {
        Some(format!(
            "pkg:maven/{}/{}@{}{qualifiers}",
            coordinates.group_id, coordinates.artifact_id, coordinates.version
        ))
    };
    let mut files = vec![
        PackedFile {
            file_name: format!("{base}.jar"),
            contents: PackedContents::Bytes(jar(inputs.classes, &coordinates, &pom, date)?),
            purl: purl("?type=jar"),
        },
        PackedFile {
            file_name: format!("{base}.pom"),
            contents: PackedContents::Bytes(pom.clone().into_bytes()),
            purl: purl("?type=pom"),
        },
    ];
    for (classifier, selected) in [("sources", inputs.sources), ("javadoc", inputs.javadoc)] {
        if let Some(selected) = selected {
            files.push(PackedFile {
                file_name: format!("{base}-{classifier}.jar"),
                contents: PackedContents::Bytes(jar(selected, &coordinates, &pom, date)?),
                purl: purl(&format!("?classifier={classifier}&type=jar")),
            });
        }
    }
    Ok(Packed {
        name: format!("{}:{}", coordinates.group_id, coordinates.artifact_id),
        version: coordinates.version.clone(),
        stem: base,
        files,
    })
}

impl crate::ecosystem::pack::Pack for super::Maven {
    fn pack(&self, request: &crate::ecosystem::pack::PackRequest<'_>) -> anyhow::Result<Packed> {
        use crate::ecosystem::pack::select_or_default;
        use anyhow::Context as _;
        let classes =
            select_or_default(request.base, request.patterns, &["**"], request.allow_empty)?;
        let sources = request
            .sources
            .map(|dir| select_or_default(dir, &[], &["**"], true))
            .transpose()?;
        let javadoc = request
            .javadoc
            .map(|dir| select_or_default(dir, &[], &["**"], true))
            .transpose()?;
        pack(
            &MavenInputs {
                name: request.name,
                version: request.version,
                pom: request.pom,
                classes: &classes,
                sources: sources.as_deref(),
                javadoc: javadoc.as_deref(),
            },
            request.date,
        )
        .context("failed to pack the Maven artifact")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pom_coordinates_fall_back_to_parent() {
        let pom = "<project><parent><groupId>com.acme</groupId><version>2.0</version></parent><artifactId>tool</artifactId></project>";
        assert_eq!(
            pom_coordinates(pom).unwrap(),
            Coordinates {
                group_id: "com.acme".into(),
                artifact_id: "tool".into(),
                version: "2.0".into()
            }
        );
        assert!(pom_coordinates("<project><artifactId>x</artifactId></project>").is_err());
        assert!(parse_name("no-colon", "1").is_err());
        assert_eq!(
            pom_coordinates(&generate_pom(&parse_name("a.b:c", "1.0").unwrap()))
                .unwrap()
                .artifact_id,
            "c"
        );
    }
}
