//! NuGet: package ids, versions, the `.nuspec` manifest and the `.nupkg` container, shared by
//! the `lading serve` NuGet data plane and (later) the packer and publisher.
//!
//! A `.nupkg` is a zip with exactly one `<id>.nuspec` at its root. [`read_nupkg`] finds and
//! parses it without extracting anything: entry names that could escape an extraction
//! directory are refused outright (a client extracts them later), and the manifest is read
//! through a size cap whatever the zip header claims.

pub mod config;
pub mod content_hash;
pub mod doctor;
pub mod login;
pub mod pack;
pub mod publish;

pub mod restore;
pub mod restorer;
pub mod serve;
pub mod service_index;
mod version;

use std::io::Read as _;

use quick_xml::events::Event;

pub use self::version::{InvalidVersion, NuGetVersion};

/// Largest `.nuspec` accepted (uncompressed).
pub const MAX_NUSPEC_BYTES: u64 = 1024 * 1024;
/// Longest package id NuGet accepts.
pub const MAX_ID_LENGTH: usize = 100;

/// Why a `.nuspec` or `.nupkg` is refused.
#[derive(Debug, thiserror::Error)]
pub enum NupkgError {
    /// The bytes are not a zip archive.
    #[error("the package is not a valid zip archive (a .nupkg is a zip)")]
    NotZip(#[source] zip::result::ZipError),
    /// An entry could not be read.
    #[error("cannot read `{name}` from the package")]
    Entry {
        /// Entry name.
        name: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// An entry name is absolute or climbs out of the package root.
    #[error("the package contains an unsafe entry name `{name}`")]
    UnsafeEntry {
        /// Entry name.
        name: String,
    },
    /// No `.nuspec` at the root.
    #[error("the package has no `.nuspec` manifest at its root")]
    MissingNuspec,
    /// More than one `.nuspec` at the root.
    #[error("the package has more than one `.nuspec` at its root: {names}")]
    SeveralNuspecs {
        /// The names found.
        names: String,
    },
    /// The manifest is too large.
    #[error("`{name}` is larger than {MAX_NUSPEC_BYTES} bytes")]
    NuspecTooLarge {
        /// Entry name.
        name: String,
    },
    /// The manifest is not UTF-8.
    #[error("`{name}` is not UTF-8 text")]
    NotUtf8 {
        /// Entry name.
        name: String,
    },
    /// The manifest is not well-formed XML.
    #[error("the nuspec is not well-formed XML: {message}")]
    Xml {
        /// Parser message (with position).
        message: String,
    },
    /// A required element is missing or empty.
    #[error("the nuspec has no `<{element}>` in `<metadata>`")]
    MissingElement {
        /// Element name.
        element: &'static str,
    },
    /// The package id is not a valid NuGet id.
    #[error("`{id}` is not a valid NuGet package id: {reason}")]
    InvalidId {
        /// The id as given.
        id: String,
        /// Why.
        reason: &'static str,
    },
    /// The version is not a valid NuGet version.
    #[error(transparent)]
    InvalidVersion(#[from] InvalidVersion),
}

/// A dependency of a package, as a `.nuspec` declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// Package id (original case).
    pub id: String,
    /// Version range as written (`1.0`, `[1.0,2.0)`), if any.
    pub range: Option<String>,
}

/// Dependencies for one target framework (or for all, when `target_framework` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyGroup {
    /// Target framework moniker as written (`net8.0`, `.NETStandard2.0`).
    pub target_framework: Option<String>,
    /// The dependencies.
    pub dependencies: Vec<Dependency>,
}

/// The parts of a `.nuspec` a repository needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nuspec {
    /// Package id, original case.
    pub id: String,
    /// Version as written.
    pub version: String,
    /// `<authors>`.
    pub authors: Option<String>,
    /// `<description>`.
    pub description: Option<String>,
    /// `<title>`.
    pub title: Option<String>,
    /// `<summary>`.
    pub summary: Option<String>,
    /// `<tags>` (space-separated in the file).
    pub tags: Vec<String>,
    /// `<projectUrl>`.
    pub project_url: Option<String>,
    /// `<licenseUrl>`.
    pub license_url: Option<String>,
    /// `<license type="expression">` text.
    pub license_expression: Option<String>,
    /// Dependency groups; a legacy flat `<dependencies>` list becomes one group without a
    /// target framework.
    pub dependency_groups: Vec<DependencyGroup>,
}

/// A package's validated identity and manifest.
#[derive(Debug, Clone)]
pub struct NupkgManifest {
    /// The parsed manifest.
    pub nuspec: Nuspec,
    /// The parsed version.
    pub version: NuGetVersion,
    /// The manifest's bytes as stored in the package.
    pub nuspec_bytes: Vec<u8>,
}

impl NupkgManifest {
    /// The lowercased id: the CodeArtifact package name and the flat-container path segment.
    #[must_use]
    pub fn lower_id(&self) -> String {
        self.nuspec.id.to_lowercase()
    }

    /// The asset file name: `<lowerid>.<lowerversion>.nupkg`.
    #[must_use]
    pub fn file_name(&self) -> String {
        nupkg_file_name(&self.lower_id(), &self.version.key())
    }
}

/// `<lowerid>.<lowerversion>.nupkg`.
#[must_use]
pub fn nupkg_file_name(lower_id: &str, lower_version: &str) -> String {
    format!("{lower_id}.{lower_version}.nupkg")
}

/// Check a package id against NuGet's rule: word characters in runs separated by single
/// `.` or `-`, at most 100 characters.
///
/// # Errors
/// [`NupkgError::InvalidId`].
///
/// ```
/// use lading::ecosystem::nuget::validate_id;
/// assert!(validate_id("Acme.Tool-Core_2").is_ok());
/// assert!(validate_id("../evil").is_err());
/// ```
pub fn validate_id(id: &str) -> Result<(), NupkgError> {
    let invalid = |reason| NupkgError::InvalidId {
        id: id.to_owned(),
        reason,
    };
    if id.is_empty() {
        return Err(invalid("it is empty"));
    }
    if id.chars().count() > MAX_ID_LENGTH {
        return Err(invalid("it is longer than 100 characters"));
    }
    let word = |character: char| character.is_alphanumeric() || character == '_';
    if !id
        .split(['.', '-'])
        .all(|run| !run.is_empty() && run.chars().all(word))
    {
        return Err(invalid(
            "it must be letters, digits and `_` in runs separated by single `.` or `-`",
        ));
    }
    Ok(())
}

fn xml_error(error: impl std::fmt::Display, position: u64) -> NupkgError {
    NupkgError::Xml {
        message: format!("{error} (at byte {position})"),
    }
}

fn resolve_reference(name: &str) -> Option<String> {
    quick_xml::escape::unescape(&format!("&{name};"))
        .ok()
        .map(std::borrow::Cow::into_owned)
}

fn attribute(
    element: &quick_xml::events::BytesStart<'_>,
    wanted: &[u8],
) -> Result<Option<String>, NupkgError> {
    for attribute in element.attributes() {
        let attribute = attribute.map_err(|error| xml_error(error, 0))?;
        if attribute.key.local_name().as_ref() == wanted {
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|error| xml_error(error, 0))?;
            return Ok(Some(value.trim().to_owned()));
        }
    }
    Ok(None)
}

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Parse a `.nuspec` document: `<package><metadata>` with `id`, `version` and the optional
/// fields of [`Nuspec`]. Namespaces are ignored (nuspecs use several schema URIs).
///
/// # Errors
/// Malformed XML, a missing `id` or `version`, an invalid id or version.
///
/// ```
/// use lading::ecosystem::nuget::parse_nuspec;
/// let nuspec = parse_nuspec(r#"<package><metadata><id>A</id><version>1.0</version>
///   <dependencies><group targetFramework="net8.0"><dependency id="B" version="2.0"/></group></dependencies>
///   </metadata></package>"#).unwrap();
/// assert_eq!(nuspec.dependency_groups[0].dependencies[0].id, "B");
/// ```
pub fn parse_nuspec(text: &str) -> Result<Nuspec, NupkgError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = quick_xml::Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut nuspec = Nuspec::default();
    let mut content = String::new();
    let mut license_is_expression = false;
    let mut flat_dependencies: Vec<Dependency> = Vec::new();
    let mut saw_root = false;
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|error| xml_error(error, position))?;
        match event {
            Event::Start(ref element) | Event::Empty(ref element) => {
                let is_empty = matches!(event, Event::Empty(_));
                let name = String::from_utf8_lossy(element.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    if name != "package" {
                        return Err(NupkgError::Xml {
                            message: format!("the root element is `<{name}>`, not `<package>`"),
                        });
                    }
                    saw_root = true;
                }
                let in_metadata = path.len() >= 2 && path[1] == "metadata";
                if in_metadata {
                    match (path.len(), name.as_str()) {
                        (2, "license") => {
                            license_is_expression =
                                attribute(element, b"type")?.as_deref() == Some("expression");
                        }
                        (3, "group") if path[2] == "dependencies" => {
                            nuspec.dependency_groups.push(DependencyGroup {
                                target_framework: attribute(element, b"targetFramework")?
                                    .filter(|framework| !framework.is_empty()),
                                dependencies: Vec::new(),
                            });
                        }
                        (3 | 4, "dependency") if path[2] == "dependencies" => {
                            let id = attribute(element, b"id")?.unwrap_or_default();
                            validate_id(&id)?;
                            let dependency = Dependency {
                                id,
                                range: attribute(element, b"version")?
                                    .filter(|range| !range.is_empty()),
                            };
                            if path.len() == 4 {
                                if let Some(group) = nuspec.dependency_groups.last_mut() {
                                    group.dependencies.push(dependency);
                                }
                            } else {
                                flat_dependencies.push(dependency);
                            }
                        }
                        _ => {}
                    }
                }
                content.clear();
                if !is_empty {
                    path.push(name);
                }
            }
            Event::Text(text) => {
                let decoded = text.decode().map_err(|error| xml_error(error, position))?;
                content.push_str(&decoded);
            }
            Event::CData(data) => {
                let decoded = data.decode().map_err(|error| xml_error(error, position))?;
                content.push_str(&decoded);
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference
                        .resolve_char_ref()
                        .map_err(|error| xml_error(error, position))?
                        .map(String::from)
                } else {
                    let name = reference
                        .decode()
                        .map_err(|error| xml_error(error, position))?;
                    resolve_reference(&name)
                };
                let resolved = resolved.ok_or_else(|| NupkgError::Xml {
                    message: format!("unknown entity reference at byte {position}"),
                })?;
                content.push_str(&resolved);
            }
            Event::End(_) => {
                let Some(name) = path.pop() else {
                    return Err(xml_error("unbalanced end tag", position));
                };
                if path.len() == 2 && path[1] == "metadata" {
                    let value = std::mem::take(&mut content);
                    match name.as_str() {
                        "id" => value.trim().clone_into(&mut nuspec.id),
                        "version" => value.trim().clone_into(&mut nuspec.version),
                        "authors" => nuspec.authors = non_empty(&value),
                        "description" => nuspec.description = non_empty(&value),
                        "title" => nuspec.title = non_empty(&value),
                        "summary" => nuspec.summary = non_empty(&value),
                        "tags" => {
                            nuspec.tags = value
                                .split([' ', ',', ';', '\t', '\n', '\r'])
                                .filter(|tag| !tag.is_empty())
                                .map(ToOwned::to_owned)
                                .collect();
                        }
                        "projectUrl" => nuspec.project_url = non_empty(&value),
                        "licenseUrl" => nuspec.license_url = non_empty(&value),
                        "license" if license_is_expression => {
                            nuspec.license_expression = non_empty(&value);
                        }
                        _ => {}
                    }
                }
                content.clear();
            }
            Event::Eof => {
                if let Some(open) = path.last() {
                    return Err(xml_error(format!("`<{open}>` is never closed"), position));
                }
                break;
            }
            _ => {}
        }
    }
    if !saw_root {
        return Err(NupkgError::Xml {
            message: "the document has no root element".to_owned(),
        });
    }
    if !flat_dependencies.is_empty() {
        nuspec.dependency_groups.insert(
            0,
            DependencyGroup {
                target_framework: None,
                dependencies: flat_dependencies,
            },
        );
    }
    if nuspec.id.is_empty() {
        return Err(NupkgError::MissingElement { element: "id" });
    }
    if nuspec.version.is_empty() {
        return Err(NupkgError::MissingElement { element: "version" });
    }
    validate_id(&nuspec.id)?;
    Ok(nuspec)
}

fn safe_entry_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.starts_with('\\')
        && !name.contains('\0')
        && name.chars().nth(1).is_none_or(|second| second != ':')
        && name
            .split(['/', '\\'])
            .all(|segment| segment != ".." && segment != ".")
}

/// Find, bound and parse the root `.nuspec` of a `.nupkg`, and validate its id and version.
///
/// # Errors
/// [`NupkgError`] naming what is wrong; nothing is extracted.
pub fn read_nupkg(bytes: &[u8]) -> Result<NupkgManifest, NupkgError> {
    read_nupkg_from(std::io::Cursor::new(bytes))
}

/// [`read_nupkg`] over a seekable reader (a package in a file), reading only the zip's
/// directory and its `.nuspec`.
///
/// # Errors
/// As [`read_nupkg`].
pub fn read_nupkg_from(
    reader: impl std::io::Read + std::io::Seek,
) -> Result<NupkgManifest, NupkgError> {
    let mut archive = zip::ZipArchive::new(reader).map_err(NupkgError::NotZip)?;
    let mut nuspecs = Vec::new();
    for index in 0..archive.len() {
        let name = archive
            .name_for_index(index)
            .map(ToOwned::to_owned)
            .unwrap_or_default();
        let decoded = percent_encoding::percent_decode_str(&name)
            .decode_utf8_lossy()
            .into_owned();
        if !safe_entry_name(&name) || !safe_entry_name(&decoded) {
            return Err(NupkgError::UnsafeEntry { name });
        }
        if !name.contains('/')
            && name.len() > ".nuspec".len()
            && name.to_ascii_lowercase().ends_with(".nuspec")
        {
            nuspecs.push((index, name));
        }
    }
    let (index, name) = match nuspecs.as_slice() {
        [] => return Err(NupkgError::MissingNuspec),
        [single] => single.clone(),
        several => {
            return Err(NupkgError::SeveralNuspecs {
                names: several
                    .iter()
                    .map(|(_, name)| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    };
    let entry = archive.by_index(index).map_err(NupkgError::NotZip)?;
    let mut nuspec_bytes = Vec::new();
    entry
        .take(MAX_NUSPEC_BYTES + 1)
        .read_to_end(&mut nuspec_bytes)
        .map_err(|source| NupkgError::Entry {
            name: name.clone(),
            source,
        })?;
    if nuspec_bytes.len() as u64 > MAX_NUSPEC_BYTES {
        return Err(NupkgError::NuspecTooLarge { name });
    }
    let text = std::str::from_utf8(&nuspec_bytes)
        .map_err(|_| NupkgError::NotUtf8 { name: name.clone() })?;
    let nuspec = parse_nuspec(text)?;
    let version = NuGetVersion::parse(&nuspec.version)?;
    Ok(NupkgManifest {
        nuspec,
        version,
        nuspec_bytes,
    })
}

/// The `.nuspec` bytes of a stored package (already validated when it was pushed).
///
/// # Errors
/// As [`read_nupkg`].
pub fn nuspec_bytes(bytes: &[u8]) -> Result<Vec<u8>, NupkgError> {
    read_nupkg(bytes).map(|manifest| manifest.nuspec_bytes)
}

/// The Nuget format's implementation: its capabilities (see [`crate::ecosystem::registry`]).
#[derive(Debug, Clone, Copy)]
pub struct Nuget;

impl crate::ecosystem::capabilities::Ecosystem for Nuget {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Nuget
    }

    fn pack(&self) -> Option<&dyn crate::ecosystem::pack::Pack> {
        Some(self)
    }

    fn publish(&self) -> Option<&dyn crate::ecosystem::publish::Publish> {
        Some(self)
    }

    fn data_plane(&self) -> Option<&'static dyn crate::server::data_plane::DataPlane> {
        Some(&serve::NuGetDataPlane)
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
    use std::io::Write as _;

    use super::*;

    const NUSPEC: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata minClientVersion="2.12">
    <id>Acme.Widget</id>
    <version>1.0-Beta+git.abc</version>
    <title>Widget &amp; friends</title>
    <authors>Acme, Inc.</authors>
    <description><![CDATA[Does <things>]]> &#x2713;</description>
    <tags>one two  three</tags>
    <license type="expression">MIT</license>
    <projectUrl>https://example.com/widget</projectUrl>
    <dependencies>
      <group targetFramework="net8.0">
        <dependency id="Acme.Core" version="[1.0.0, 2.0.0)" exclude="Build" />
        <dependency id="Acme.Log" />
      </group>
      <group />
    </dependencies>
  </metadata>
  <files><file src="x" target="lib" /></files>
</package>"#;

    #[test]
    fn nuspec_fields_and_dependency_groups_are_read() {
        let nuspec = parse_nuspec(&format!("\u{feff}{NUSPEC}")).unwrap();
        assert_eq!(nuspec.id, "Acme.Widget");
        assert_eq!(nuspec.version, "1.0-Beta+git.abc");
        assert_eq!(nuspec.title.as_deref(), Some("Widget & friends"));
        assert_eq!(nuspec.authors.as_deref(), Some("Acme, Inc."));
        assert_eq!(
            nuspec.description.as_deref(),
            Some("Does <things> \u{2713}")
        );
        assert_eq!(nuspec.tags, ["one", "two", "three"]);
        assert_eq!(nuspec.license_expression.as_deref(), Some("MIT"));
        assert_eq!(
            nuspec.project_url.as_deref(),
            Some("https://example.com/widget")
        );
        assert_eq!(
            nuspec.dependency_groups,
            vec![
                DependencyGroup {
                    target_framework: Some("net8.0".into()),
                    dependencies: vec![
                        Dependency {
                            id: "Acme.Core".into(),
                            range: Some("[1.0.0, 2.0.0)".into())
                        },
                        Dependency {
                            id: "Acme.Log".into(),
                            range: None
                        },
                    ],
                },
                DependencyGroup {
                    target_framework: None,
                    dependencies: vec![]
                },
            ]
        );
    }

    #[test]
    fn legacy_flat_dependencies_become_one_group() {
        let nuspec = parse_nuspec(
            "<package><metadata><id>A</id><version>1</version><dependencies><dependency id=\"B\" version=\"1.0\"/></dependencies></metadata></package>",
        )
        .unwrap();
        assert_eq!(
            nuspec.dependency_groups,
            vec![DependencyGroup {
                target_framework: None,
                dependencies: vec![Dependency {
                    id: "B".into(),
                    range: Some("1.0".into())
                }]
            }]
        );
    }

    #[test]
    fn bad_nuspecs_are_refused_with_reasons() {
        let cases = [
            (
                "<package><metadata><version>1.0</version></metadata></package>",
                "no `<id>`",
            ),
            (
                "<package><metadata><id>A</id></metadata></package>",
                "no `<version>`",
            ),
            (
                "<package><metadata><id>../x</id><version>1</version></metadata></package>",
                "not a valid NuGet package id",
            ),
            ("<nope/>", "not `<package>`"),
            ("<package><metadata><id>A</id>", "well-formed"),
            (
                "<package><metadata><id>A</wrong></metadata></package>",
                "well-formed",
            ),
            ("", "no root element"),
        ];
        for (text, expected) in cases {
            let error = parse_nuspec(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, content) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn nupkg_manifest_is_found_at_the_root() {
        let bytes = zip_of(&[
            ("_rels/.rels", b"x"),
            ("Acme.Widget.nuspec", NUSPEC.as_bytes()),
            ("lib/net8.0/a.dll", b"dll"),
        ]);
        let manifest = read_nupkg(&bytes).unwrap();
        assert_eq!(manifest.lower_id(), "acme.widget");
        assert_eq!(manifest.version.key(), "1.0.0-beta");
        assert_eq!(manifest.file_name(), "acme.widget.1.0.0-beta.nupkg");
        assert_eq!(manifest.nuspec_bytes, NUSPEC.as_bytes());
    }

    #[test]
    fn bad_nupkgs_are_refused_with_reasons() {
        let good = NUSPEC.as_bytes();
        let huge = vec![b' '; usize::try_from(MAX_NUSPEC_BYTES).unwrap() + 10];
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not a zip".to_vec(), "not a valid zip"),
            (zip_of(&[("lib/a.dll", b"x")]), "no `.nuspec`"),
            (zip_of(&[("sub/A.nuspec", good)]), "no `.nuspec`"),
            (
                zip_of(&[("A.nuspec", good), ("B.nuspec", good)]),
                "more than one",
            ),
            (
                zip_of(&[("A.nuspec", good), ("../evil.dll", b"x")]),
                "unsafe entry",
            ),
            (
                zip_of(&[("A.nuspec", good), ("lib/%2E%2E/evil", b"x")]),
                "unsafe entry",
            ),
            (
                zip_of(&[("/abs.dll", b"x"), ("A.nuspec", good)]),
                "unsafe entry",
            ),
            (zip_of(&[("A.nuspec", &huge)]), "larger than"),
            (zip_of(&[("A.nuspec", b"\xff\xfe<")]), "not UTF-8"),
            (
                zip_of(&[(
                    "A.nuspec",
                    b"<package><metadata><id>A</id><version>one</version></metadata></package>",
                )]),
                "not a valid NuGet version",
            ),
        ];
        for (bytes, expected) in cases {
            let error = read_nupkg(&bytes).unwrap_err().to_string();
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn ids_follow_nuget_rules() {
        for id in ["A", "Acme.Widget", "a-b_c.d2", "Ünïcode"] {
            assert!(validate_id(id).is_ok(), "{id}");
        }
        for id in [
            "",
            ".a",
            "a.",
            "a..b",
            "a/b",
            "a b",
            "a+b",
            &"x".repeat(101),
        ] {
            assert!(validate_id(id).is_err(), "{id}");
        }
    }
}
