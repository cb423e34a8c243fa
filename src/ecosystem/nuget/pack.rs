//! The `.nupkg` writer: `<id>.nuspec` at the root, the payload at its relative paths, and the
//! OPC parts `nuget pack` writes (`[Content_Types].xml`, `_rels/.rels`,
//! `package/services/metadata/core-properties/<id>.psmdcp`). NuGet clients ignore the OPC
//! parts on read but some servers check them. Relationship ids and the psmdcp name are
//! derived from the content, not random, so the package is reproducible.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use super::{NuGetVersion, NupkgError, Nuspec, parse_nuspec, validate_id};
use crate::archive::{ArchiveError, Entry, SelectedFile, SourceDate};
use crate::ecosystem::{Packed, PackedContents, PackedFile};

/// Why a nupkg could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum NugetPackError {
    /// The nuspec could not be read.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The nuspec is invalid.
    #[error("`{path}` is not a valid nuspec")]
    Nuspec {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: NupkgError,
    },
    /// The nuspec's id is not the package asked for.
    #[error("`{path}` declares package id `{found}`, but `{expected}` was asked for")]
    IdMismatch {
        /// The file.
        path: PathBuf,
        /// `<id>` in the nuspec.
        found: String,
        /// `--name`.
        expected: String,
    },
    /// No nuspec and not enough to generate one.
    #[error("no nuspec given and no package name to generate one from")]
    NoNuspec,
    /// The version is invalid.
    #[error(transparent)]
    Version(#[from] super::InvalidVersion),
    /// The id is invalid.
    #[error(transparent)]
    Id(NupkgError),
    /// Writing the zip failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A minimal nuspec for a package with no nuspec of its own.
#[must_use]
pub fn generate_nuspec(id: &str, version: &str, authors: &str, description: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\">\n  <metadata>\n    <id>{}</id>\n    <version>{}</version>\n    <authors>{}</authors>\n    <description>{}</description>\n  </metadata>\n</package>\n",
        xml_escape(id),
        xml_escape(version),
        xml_escape(authors),
        xml_escape(description)
    )
}

/// Replace the text of the first `<version>` element (the metadata's).
fn set_version(text: &str, version: &str) -> String {
    if let Some(open) = text.find("<version>")
        && let Some(close) = text[open..].find("</version>")
    {
        let start = open + "<version>".len();
        return format!(
            "{}{}{}",
            &text[..start],
            xml_escape(version),
            &text[open + close..]
        );
    }
    text.to_owned()
}

/// Pack a nupkg from `nuspec` (or a generated one when `None`) and the payload `files`.
///
/// # Errors
/// [`NugetPackError`]; an id that differs from `expected_id` (case-insensitively) is refused.
pub fn pack(
    nuspec_path: Option<&Path>,
    files: &[SelectedFile],
    expected_id: Option<&str>,
    version_override: Option<&str>,
    date: SourceDate,
) -> Result<Packed, NugetPackError> {
    let (label, mut text) = if let Some(path) = nuspec_path {
        (
            path.to_path_buf(),
            fs_err::read_to_string(path).map_err(|source| NugetPackError::Read {
                path: path.to_path_buf(),
                source,
            })?,
        )
    } else {
        let id = expected_id.ok_or(NugetPackError::NoNuspec)?;
        let version = version_override.ok_or(NugetPackError::NoNuspec)?;
        validate_id(id).map_err(NugetPackError::Id)?;
        (
            PathBuf::from("(generated nuspec)"),
            generate_nuspec(id, version, id, id),
        )
    };
    if let Some(version) = version_override {
        text = set_version(&text, version);
    }
    let nuspec: Nuspec = parse_nuspec(&text).map_err(|source| NugetPackError::Nuspec {
        path: label.clone(),
        source,
    })?;
    validate_id(&nuspec.id).map_err(|source| NugetPackError::Nuspec {
        path: label.clone(),
        source,
    })?;
    if let Some(expected) = expected_id
        && !expected.eq_ignore_ascii_case(&nuspec.id)
    {
        return Err(NugetPackError::IdMismatch {
            path: label,
            found: nuspec.id,
            expected: expected.to_owned(),
        });
    }
    let version = NuGetVersion::parse(&nuspec.version)?;
    let nuspec_name = format!("{}.nuspec", nuspec.id);
    let payload: Vec<&SelectedFile> = files
        .iter()
        .filter(|file| {
            let extension = Path::new(&file.relative).extension();
            !extension.is_some_and(|extension| {
                extension.eq_ignore_ascii_case("nuspec") || extension.eq_ignore_ascii_case("nupkg")
            })
        })
        .collect();

    // Content-derived ids: the same inputs give the same names.
    let mut seed = sha2::Sha256::new();
    seed.update(text.as_bytes());
    for file in &payload {
        seed.update(file.relative.as_bytes());
        seed.update([0]);
    }
    let seed = hex::encode(seed.finalize());
    let psmdcp = format!(
        "package/services/metadata/core-properties/{}.psmdcp",
        &seed[..32]
    );

    let mut extensions: BTreeSet<String> = ["rels", "psmdcp", "nuspec"]
        .iter()
        .map(|ext| (*ext).to_owned())
        .collect();
    let mut overrides = Vec::new();
    for file in &payload {
        let name = file.relative.rsplit('/').next().unwrap_or(&file.relative);
        match name.rsplit_once('.') {
            Some((_, extension)) if !extension.is_empty() => {
                extensions.insert(extension.to_ascii_lowercase());
            }
            _ => overrides.push(file.relative.clone()),
        }
    }
    let mut content_types = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">",
    );
    for extension in &extensions {
        let content_type = match extension.as_str() {
            "rels" => "application/vnd.openxmlformats-package.relationships+xml",
            "psmdcp" => "application/vnd.openxmlformats-package.core-properties+xml",
            _ => "application/octet",
        };
        let _ = write!(
            content_types,
            "<Default Extension=\"{}\" ContentType=\"{content_type}\" />",
            xml_escape(extension)
        );
    }
    for part in &overrides {
        let _ = write!(
            content_types,
            "<Override PartName=\"/{}\" ContentType=\"application/octet\" />",
            xml_escape(part)
        );
    }
    content_types.push_str("</Types>");
    let rels = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Type=\"http://schemas.microsoft.com/packaging/2010/07/manifest\" Target=\"/{}\" Id=\"R{}\" /><Relationship Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties\" Target=\"/{psmdcp}\" Id=\"R{}\" /></Relationships>",
        xml_escape(&nuspec_name),
        &seed[32..48],
        &seed[48..64]
    );
    let core_properties = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><coreProperties xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\"><dc:creator>{}</dc:creator><dc:description>{}</dc:description><dc:identifier>{}</dc:identifier><version>{}</version><keywords>{}</keywords><lastModifiedBy>lading</lastModifiedBy></coreProperties>",
        xml_escape(nuspec.authors.as_deref().unwrap_or_default()),
        xml_escape(nuspec.description.as_deref().unwrap_or_default()),
        xml_escape(&nuspec.id),
        xml_escape(&nuspec.version),
        xml_escape(&nuspec.tags.join(" ")),
    );

    let mut entries = vec![
        Entry::bytes("_rels/.rels", rels.into_bytes()),
        Entry::bytes(nuspec_name, text.into_bytes()),
    ];
    entries.extend(
        payload
            .iter()
            .map(|file| Entry::file(file.relative.clone(), file.path.clone(), file.executable)),
    );
    entries.push(Entry::bytes(psmdcp, core_properties.into_bytes()));
    crate::archive::sort_entries(&mut entries);
    // `nuget pack` writes the content types part last.
    entries.push(Entry::bytes(
        "[Content_Types].xml",
        content_types.into_bytes(),
    ));
    let bytes =
        crate::archive::write_zip(&entries, date, std::io::Cursor::new(Vec::new()))?.into_inner();
    let normalized = version.normalized();
    Ok(Packed {
        stem: format!("{}.{normalized}", nuspec.id),
        files: vec![PackedFile {
            file_name: format!("{}.{normalized}.nupkg", nuspec.id),
            contents: PackedContents::Bytes(bytes),
            purl: Some(format!("pkg:nuget/{}@{normalized}", nuspec.id)),
        }],
        name: nuspec.id,
        version: normalized,
    })
}

/// The one `*.nuspec` in `base`, if there is one.
fn find_nuspec(base: &Path) -> anyhow::Result<Option<PathBuf>> {
    let mut found: Vec<PathBuf> = fs_err::read_dir(base)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "nuspec")
        })
        .collect();
    found.sort();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => anyhow::bail!(crate::diagnostics::HintedError::new(
            format!("`{}` holds several nuspec files", base.display()),
            "name one with `--nuspec FILE`"
        )),
    }
}

impl crate::ecosystem::pack::Pack for super::Nuget {
    fn pack(&self, request: &crate::ecosystem::pack::PackRequest<'_>) -> anyhow::Result<Packed> {
        use anyhow::Context as _;
        let nuspec = match request.nuspec {
            Some(path) => Some(path.to_path_buf()),
            None => find_nuspec(request.base)?,
        };
        let files = crate::ecosystem::pack::select_or_default(
            request.base,
            request.patterns,
            &["**"],
            true,
        )?;
        pack(
            nuspec.as_deref(),
            &files,
            request.name,
            request.version,
            request.date,
        )
        .context("failed to pack the nupkg")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_memory(file: &PackedFile) -> &[u8] {
        match &file.contents {
            PackedContents::Bytes(bytes) => bytes,
            PackedContents::File(path) => panic!("`{}` is not in memory", path.display()),
        }
    }

    const DATE: SourceDate = SourceDate {
        epoch: 1_700_000_000,
        origin: crate::archive::SourceDateOrigin::SourceDateEpoch,
    };

    #[test]
    fn nupkg_reads_back_with_opc_parts() {
        let dir = tempfile::tempdir().unwrap();
        let nuspec = dir.path().join("Acme.Tool.nuspec");
        fs_err::write(
            &nuspec,
            generate_nuspec("Acme.Tool", "1.2.0", "Acme", "A tool"),
        )
        .unwrap();
        fs_err::create_dir_all(dir.path().join("lib/net8.0")).unwrap();
        fs_err::write(dir.path().join("lib/net8.0/Acme.Tool.dll"), b"MZ").unwrap();
        let files = crate::archive::select(dir.path(), &["lib/**".to_owned()], false).unwrap();
        let packed = pack(
            Some(&nuspec),
            &files,
            Some("acme.tool"),
            Some("1.2.3"),
            DATE,
        )
        .unwrap();
        assert_eq!(packed.files[0].file_name, "Acme.Tool.1.2.3.nupkg");
        let manifest = super::super::read_nupkg(in_memory(&packed.files[0])).unwrap();
        assert_eq!(manifest.nuspec.version, "1.2.3");
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(in_memory(&packed.files[0]).to_vec()))
                .unwrap();
        let names: Vec<String> = archive.file_names().map(ToOwned::to_owned).collect();
        assert!(
            names.contains(&"[Content_Types].xml".to_owned()),
            "{names:?}"
        );
        assert!(names.contains(&"_rels/.rels".to_owned()));
        assert!(names.iter().any(|name| name.ends_with(".psmdcp")));
        assert!(archive.by_name("lib/net8.0/Acme.Tool.dll").is_ok());
        let again = pack(Some(&nuspec), &files, None, Some("1.2.3"), DATE).unwrap();
        assert_eq!(again.files[0], packed.files[0]);
    }

    #[test]
    fn wrong_id_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let nuspec = dir.path().join("x.nuspec");
        fs_err::write(&nuspec, generate_nuspec("Acme.Tool", "1.0.0", "a", "d")).unwrap();
        let error = pack(Some(&nuspec), &[], Some("Acme.Other"), None, DATE).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("declares package id `Acme.Tool`"),
            "{error}"
        );
    }
}
