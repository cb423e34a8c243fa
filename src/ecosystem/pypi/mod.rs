//! PyPI: project-name normalization (PEP 503), distribution file names (wheel and sdist),
//! version comparison for upload consistency checks, and the content negotiation of the
//! simple repository API (PEP 691), shared by client and server.

pub mod client_config;
pub mod doctor;
pub mod install;
pub mod install_wheel;
pub mod lock;
pub mod login;
pub mod markers;
pub mod pack;
pub mod pep440;
pub mod poetry;
pub mod poetry_lock;
pub mod publish;
pub mod requirement;
pub mod restore;
pub mod restorer;
pub mod serve;
pub mod simple;
pub mod tags;
pub mod uv;

/// PEP 691 JSON media type (api version 1).
pub const SIMPLE_JSON_V1: &str = "application/vnd.pypi.simple.v1+json";
/// PEP 691 HTML media type (api version 1).
pub const SIMPLE_HTML_V1: &str = "application/vnd.pypi.simple.v1+html";
/// The api-version the server implements (PEP 700 adds `versions`, `size`, `upload-time`).
pub const SIMPLE_API_VERSION: &str = "1.1";

/// `re.sub(r"[-_.]+", "-", name).lower()`: the PEP 503 normalized project name.
///
/// ```
/// use lading::ecosystem::pypi::normalize_name;
/// assert_eq!(normalize_name("Lading.Demo__Tool"), "lading-demo-tool");
/// ```
#[must_use]
pub fn normalize_name(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for character in name.chars() {
        if matches!(character, '-' | '_' | '.') {
            if !in_separator_run {
                normalized.push('-');
            }
            in_separator_run = true;
        } else {
            normalized.extend(character.to_lowercase());
            in_separator_run = false;
        }
    }
    normalized
}

/// Whether `name` is a valid project name (PEP 508: ASCII letters and digits, with `.`, `_`
/// and `-` inside).
#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    name.len() <= 255
        && first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// A version string reduced for comparison between a form field and a file name: lowercase,
/// without a leading `v`, with `_` (the wheel escape of `-`) read as `-`. This is not full
/// PEP 440 normalization; it accepts what build back ends actually write.
fn comparable_version(version: &str) -> String {
    let lower = version.trim().to_ascii_lowercase();
    let lower = lower.strip_prefix('v').unwrap_or(&lower);
    lower.replace('_', "-")
}

/// Whether two spellings of a version name the same version (see [`DistributionFile::matches`]).
#[must_use]
pub fn versions_match(left: &str, right: &str) -> bool {
    comparable_version(left) == comparable_version(right)
}

/// The kind of a distribution file, as twine's `filetype` field names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// A `.whl` (`bdist_wheel`).
    Wheel,
    /// A `.tar.gz` or `.zip` source distribution (`sdist`).
    Sdist,
}

impl FileType {
    /// The `filetype` value twine sends.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Wheel => "bdist_wheel",
            Self::Sdist => "sdist",
        }
    }
}

/// A parsed distribution file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistributionFile {
    /// `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
    Wheel {
        /// Distribution name as spelled in the file name.
        name: String,
        /// Version as spelled in the file name.
        version: String,
        /// Optional build tag (starts with a digit).
        build: Option<String>,
        /// Python tag (`py3`, `cp312`, ...).
        python: String,
        /// ABI tag.
        abi: String,
        /// Platform tag.
        platform: String,
    },
    /// `{name}-{version}.tar.gz` or `.zip`. Legacy sdists may have `-` in the name, so the
    /// split between name and version is only known given the expected name.
    Sdist {
        /// The file name without its extension.
        stem: String,
    },
}

/// Why a distribution file name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid distribution file name `{file}`: {reason}")]
pub struct InvalidFileName {
    /// The file name as given.
    pub file: String,
    /// Why.
    pub reason: &'static str,
}

impl DistributionFile {
    /// Parse a wheel or sdist file name.
    ///
    /// # Errors
    /// [`InvalidFileName`] for other extensions, path separators, or malformed wheel names.
    ///
    /// ```
    /// use lading::ecosystem::pypi::DistributionFile;
    /// let file = DistributionFile::parse("lading_demo-1.0.0-py3-none-any.whl").unwrap();
    /// assert!(file.matches("Lading.Demo", "1.0.0"));
    /// let sdist = DistributionFile::parse("Lading.Demo-1.0.0.tar.gz").unwrap();
    /// assert!(sdist.matches("lading-demo", "1.0.0"));
    /// ```
    pub fn parse(file: &str) -> Result<Self, InvalidFileName> {
        let invalid = |reason| InvalidFileName {
            file: file.to_owned(),
            reason,
        };
        if file.is_empty()
            || file.contains(['/', '\\'])
            || file.starts_with('.')
            || file.chars().any(char::is_control)
        {
            return Err(invalid("not a plain file name"));
        }
        if let Some(stem) = file.strip_suffix(".whl") {
            let parts: Vec<&str> = stem.split('-').collect();
            let (name, version, build, tags) = match parts.as_slice() {
                [name, version, python, abi, platform] => {
                    (*name, *version, None, [*python, *abi, *platform])
                }
                [name, version, build, python, abi, platform] => {
                    if !build.starts_with(|character: char| character.is_ascii_digit()) {
                        return Err(invalid("a wheel build tag must start with a digit"));
                    }
                    (
                        *name,
                        *version,
                        Some((*build).to_owned()),
                        [*python, *abi, *platform],
                    )
                }
                _ => {
                    return Err(invalid(
                        "a wheel is named `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`",
                    ));
                }
            };
            if !is_valid_name(name) || version.is_empty() || tags.iter().any(|tag| tag.is_empty()) {
                return Err(invalid("empty or invalid wheel name component"));
            }
            let [python, abi, platform] = tags.map(ToOwned::to_owned);
            return Ok(Self::Wheel {
                name: name.to_owned(),
                version: version.to_owned(),
                build,
                python,
                abi,
                platform,
            });
        }
        let stem = file
            .strip_suffix(".tar.gz")
            .or_else(|| file.strip_suffix(".zip"))
            .ok_or_else(|| {
                invalid("only wheels (`.whl`) and sdists (`.tar.gz`, `.zip`) are accepted")
            })?;
        if !stem.contains('-') {
            return Err(invalid("an sdist is named `{name}-{version}.tar.gz`"));
        }
        Ok(Self::Sdist {
            stem: stem.to_owned(),
        })
    }

    /// Whether this is a wheel or an sdist.
    #[must_use]
    pub const fn file_type(&self) -> FileType {
        match self {
            Self::Wheel { .. } => FileType::Wheel,
            Self::Sdist { .. } => FileType::Sdist,
        }
    }

    /// Whether the file name belongs to project `name` at `version` (names compared after
    /// normalization, versions with [`versions_match`]).
    #[must_use]
    pub fn matches(&self, name: &str, version: &str) -> bool {
        let wanted = normalize_name(name);
        match self {
            Self::Wheel {
                name: file_name,
                version: file_version,
                ..
            } => normalize_name(file_name) == wanted && versions_match(file_version, version),
            Self::Sdist { stem } => stem.match_indices('-').any(|(index, _)| {
                normalize_name(&stem[..index]) == wanted
                    && versions_match(&stem[index + 1..], version)
            }),
        }
    }
}

/// Largest `METADATA` file [`wheel_metadata`] reads (real ones are a few kilobytes; the
/// bound keeps a crafted wheel from inflating a huge member into memory).
const MAX_METADATA_BYTES: u64 = 16 * 1024 * 1024;

/// The core metadata of a wheel: its `{name}-{version}.dist-info/METADATA` member, which
/// PEP 658 serves as `<wheel URL>.metadata`. `None` when the bytes are not a zip, have no
/// single top-level `.dist-info/METADATA`, or it is larger than 16 MiB.
#[must_use]
pub fn wheel_metadata(wheel: &[u8]) -> Option<Vec<u8>> {
    wheel_metadata_from(std::io::Cursor::new(wheel))
}

/// [`wheel_metadata`] over a seekable reader (a wheel in a file), reading only the zip's
/// directory and the `METADATA` member.
pub fn wheel_metadata_from(wheel: impl std::io::Read + std::io::Seek) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut archive = zip::ZipArchive::new(wheel).ok()?;
    let names: Vec<String> = archive
        .file_names()
        .filter(|name| {
            name.strip_suffix(".dist-info/METADATA")
                .is_some_and(|directory| !directory.is_empty() && !directory.contains('/'))
        })
        .map(ToOwned::to_owned)
        .collect();
    let [name] = names.as_slice() else {
        return None;
    };
    let member = archive.by_name(name).ok()?;
    if member.size() > MAX_METADATA_BYTES {
        return None;
    }
    let mut bytes = Vec::new();
    member
        .take(MAX_METADATA_BYTES + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= MAX_METADATA_BYTES).then_some(bytes)
}

/// The value of header `field` (case-insensitive) in core metadata (`METADATA`, `PKG-INFO`:
/// RFC 822 style headers up to the first blank line), trimmed; `None` when absent or empty.
///
/// ```
/// use lading::ecosystem::pypi::metadata_field;
/// let metadata = b"Metadata-Version: 2.1\nName: demo\nRequires-Python: >=3.8\n\nbody";
/// assert_eq!(metadata_field(metadata, "requires-python").as_deref(), Some(">=3.8"));
/// ```
#[must_use]
pub fn metadata_field(metadata: &[u8], field: &str) -> Option<String> {
    String::from_utf8_lossy(metadata)
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case(field)
                .then(|| value.trim().to_owned())
        })
        .filter(|value| !value.is_empty())
}

/// What the simple API answers with, chosen from the request's `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimpleFormat {
    /// PEP 691 JSON (`application/vnd.pypi.simple.v1+json`).
    Json,
    /// HTML, with the `Content-Type` to answer with (`text/html` or the PEP 691 HTML type).
    Html(&'static str),
}

impl SimpleFormat {
    /// The response `Content-Type`.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Json => SIMPLE_JSON_V1,
            Self::Html(content_type) => content_type,
        }
    }
}

/// Choose a response format from an `Accept` header (PEP 691 content negotiation): the
/// supported type with the highest `q`, the first listed on ties; HTML when the header is
/// absent. `None` when nothing acceptable is supported (the server answers 406).
///
/// ```
/// use lading::ecosystem::pypi::{SimpleFormat, negotiate};
/// let pip = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
/// assert_eq!(negotiate(Some(pip)), Some(SimpleFormat::Json));
/// assert_eq!(negotiate(None), Some(SimpleFormat::Html("text/html; charset=utf-8")));
/// ```
#[must_use]
pub fn negotiate(accept: Option<&str>) -> Option<SimpleFormat> {
    const TEXT_HTML: SimpleFormat = SimpleFormat::Html("text/html; charset=utf-8");
    let Some(accept) = accept.filter(|accept| !accept.trim().is_empty()) else {
        return Some(TEXT_HTML);
    };
    let mut best: Option<(f32, SimpleFormat)> = None;
    for entry in accept.split(',') {
        let mut pieces = entry.split(';');
        let media_type = pieces
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let quality = pieces
            .filter_map(|parameter| parameter.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("q"))
            .and_then(|(_, value)| value.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let format =
            match media_type.as_str() {
                "application/vnd.pypi.simple.v1+json"
                | "application/vnd.pypi.simple.latest+json" => SimpleFormat::Json,
                "application/vnd.pypi.simple.v1+html"
                | "application/vnd.pypi.simple.latest+html" => SimpleFormat::Html(SIMPLE_HTML_V1),
                "text/html" | "text/*" | "*/*" => TEXT_HTML,
                _ => continue,
            };
        if quality > 0.0 && best.is_none_or(|(current, _)| quality > current) {
            best = Some((quality, format));
        }
    }
    best.map(|(_, format)| format)
}

/// The Pypi format's implementation: its capabilities (see [`crate::ecosystem::registry`]).
#[derive(Debug, Clone, Copy)]
pub struct Pypi;

impl crate::ecosystem::capabilities::Ecosystem for Pypi {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Pypi
    }

    fn pack(&self) -> Option<&dyn crate::ecosystem::pack::Pack> {
        Some(self)
    }

    fn publish(&self) -> Option<&dyn crate::ecosystem::publish::Publish> {
        Some(self)
    }

    fn data_plane(&self) -> Option<&'static dyn crate::server::data_plane::DataPlane> {
        Some(&serve::PypiDataPlane)
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

    #[test]
    fn names_normalize_like_pep_503() {
        for (name, expected) in [
            ("Django", "django"),
            ("zope.interface", "zope-interface"),
            ("my__package", "my-package"),
            ("A-_.b", "a-b"),
            ("already-normal", "already-normal"),
        ] {
            assert_eq!(normalize_name(name), expected, "{name}");
        }
    }

    #[test]
    fn names_are_validated_like_pep_508() {
        assert!(is_valid_name("a"));
        assert!(is_valid_name("Lading.Demo_2"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("-a"));
        assert!(!is_valid_name("a-"));
        assert!(!is_valid_name("a b"));
        assert!(!is_valid_name("a/b"));
    }

    #[test]
    fn wheel_names_are_parsed() {
        assert_eq!(
            DistributionFile::parse("demo_pkg-2.0.1-1-cp312-cp312-manylinux_2_17_x86_64.whl")
                .unwrap(),
            DistributionFile::Wheel {
                name: "demo_pkg".into(),
                version: "2.0.1".into(),
                build: Some("1".into()),
                python: "cp312".into(),
                abi: "cp312".into(),
                platform: "manylinux_2_17_x86_64".into(),
            }
        );
        let wheel = DistributionFile::parse("demo_pkg-2.0.1-py3-none-any.whl").unwrap();
        assert_eq!(wheel.file_type(), FileType::Wheel);
        assert!(wheel.matches("Demo-Pkg", "2.0.1"));
        assert!(wheel.matches("demo.pkg", "v2.0.1"));
        assert!(!wheel.matches("demo-pkg", "2.0.2"));
        assert!(!wheel.matches("other", "2.0.1"));
        // Local versions: `-` is escaped as `_` in wheel names.
        let local = DistributionFile::parse("a-1.0_post1-py3-none-any.whl").unwrap();
        assert!(local.matches("a", "1.0-post1"));
    }

    #[test]
    fn malformed_wheel_names_are_refused() {
        for file in [
            "demo-1.0.whl",
            "demo-1.0-py3-none.whl",
            "demo-1.0-x-py3-none-any.whl",
            "demo-1.0-1-2-py3-none-any.whl",
            "-1.0-py3-none-any.whl",
            "../demo-1.0-py3-none-any.whl",
        ] {
            assert!(DistributionFile::parse(file).is_err(), "{file}");
        }
    }

    #[test]
    fn sdist_names_are_parsed_and_matched() {
        let sdist = DistributionFile::parse("Lading.Demo-1.0.0.tar.gz").unwrap();
        assert_eq!(sdist.file_type(), FileType::Sdist);
        assert!(sdist.matches("lading-demo", "1.0.0"));
        assert!(!sdist.matches("lading-demo", "1.0"));
        let legacy = DistributionFile::parse("my-old-package-0.1.zip").unwrap();
        assert!(legacy.matches("my_old_package", "0.1"));
        assert!(!legacy.matches("my-old", "0.1"));
        assert!(DistributionFile::parse("demo-1.0.tar.bz2").is_err());
        assert!(DistributionFile::parse("demo.tar.gz").is_err());
        assert!(DistributionFile::parse("demo-1.0.egg").is_err());
    }

    #[test]
    fn accept_headers_are_negotiated() {
        assert_eq!(
            negotiate(Some("*/*")),
            Some(SimpleFormat::Html("text/html; charset=utf-8"))
        );
        assert_eq!(
            negotiate(Some("text/html, application/vnd.pypi.simple.v1+json")),
            Some(SimpleFormat::Html("text/html; charset=utf-8"))
        );
        assert_eq!(
            negotiate(Some(
                "text/html;q=0.5, application/vnd.pypi.simple.latest+json"
            )),
            Some(SimpleFormat::Json)
        );
        assert_eq!(
            negotiate(Some("application/vnd.pypi.simple.v1+html")),
            Some(SimpleFormat::Html(SIMPLE_HTML_V1))
        );
        assert_eq!(negotiate(Some("application/json")), None);
        assert_eq!(
            negotiate(Some("application/vnd.pypi.simple.v1+json;q=0")),
            None
        );
    }
}
