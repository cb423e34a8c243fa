//! What a `.gem` says about itself: a plain tar holding `metadata.gz` (the gemspec as
//! YAML), `data.tar.gz` and `checksums.yaml.gz`.
//!
//! The YAML is Ruby's own (`--- !ruby/object:Gem::Specification`, with
//! `!ruby/object:Gem::Version`, `Gem::Requirement` and `Gem::Dependency` tags and `:runtime`
//! symbols); [`GemSpec::from_yaml`] reads it as untyped YAML and picks the fields the
//! compact index and the Marshal gemspec need, ignoring the tags and everything else.

use std::collections::BTreeMap;
use std::io::Read;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

/// The most `metadata.gz` may inflate to (a gemspec is a few KiB; this stops a zip bomb).
const MAX_METADATA_BYTES: u64 = 8 * 1024 * 1024;

/// Why a `.gem` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GemError {
    /// Not a tar, or no `metadata.gz` in it.
    #[error("not a gem: {0}")]
    NotAGem(String),
    /// The gemspec YAML is unreadable or lacks a required field.
    #[error("invalid gem metadata: {0}")]
    Metadata(String),
}

/// One dependency of a gem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// The gem depended on.
    pub name: String,
    /// Its requirements (`>= 1.0`, `< 3`), as the gemspec lists them.
    pub requirements: Vec<String>,
    /// `runtime` (what the compact index lists) or `development`.
    pub kind: String,
}

/// The fields of a gemspec that `lading serve` serves: the compact index line and the
/// Marshal gemspec (`quick/Marshal.4.8/*.gemspec.rz`) are built from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GemSpec {
    /// Gem name.
    pub name: String,
    /// Version.
    pub version: String,
    /// `ruby`, or a platform such as `x86_64-linux` or `java`.
    pub platform: String,
    /// Dependencies, runtime and development.
    pub dependencies: Vec<Dependency>,
    /// `required_ruby_version` requirements.
    pub required_ruby_version: Vec<String>,
    /// `required_rubygems_version` requirements.
    pub required_rubygems_version: Vec<String>,
    /// One-line summary.
    #[serde(default)]
    pub summary: String,
    /// Authors.
    #[serde(default)]
    pub authors: Vec<String>,
    /// Email addresses.
    #[serde(default)]
    pub email: Vec<String>,
    /// Homepage.
    #[serde(default)]
    pub homepage: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Licenses.
    #[serde(default)]
    pub licenses: Vec<String>,
    /// `metadata` (string keys and values).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The RubyGems version that built it.
    #[serde(default)]
    pub rubygems_version: String,
    /// The gemspec format version (4 today).
    #[serde(default)]
    pub specification_version: i64,
    /// Build date, `YYYY-MM-DD`.
    #[serde(default)]
    pub date: String,
}

/// Whether `name` is a valid gem name (RubyGems' `VALID_NAME_PATTERN`, and not `.`/`..`).
#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name != "."
        && name != ".."
        && name.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | '_')
        })
}

/// Whether `version` is a valid gem version as a gemspec stores it (`Gem::Version`
/// canonicalizes `-` to `.pre.`, so none is left to confuse `name-version-platform`).
#[must_use]
pub fn is_valid_version(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 128
        && version.starts_with(|character: char| character.is_ascii_digit())
        && version
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '.')
}

/// Whether `platform` is a platform name a file name may carry.
#[must_use]
pub fn is_valid_platform(platform: &str) -> bool {
    !platform.is_empty()
        && platform.len() <= 100
        && platform.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | '_')
        })
}

impl GemSpec {
    /// The file name RubyGems gives the gem: `name-version.gem`, or
    /// `name-version-platform.gem` for a platform gem.
    #[must_use]
    pub fn file_name(&self) -> String {
        format!("{}.gem", self.full_name())
    }

    /// `name-version[-platform]`.
    #[must_use]
    pub fn full_name(&self) -> String {
        if self.platform == "ruby" {
            format!("{}-{}", self.name, self.version)
        } else {
            format!("{}-{}-{}", self.name, self.version, self.platform)
        }
    }

    /// Read the gemspec of a `.gem` (a tar; only `metadata.gz` is inflated).
    ///
    /// # Errors
    /// [`GemError`].
    pub fn from_gem(reader: impl Read) -> Result<Self, GemError> {
        let mut archive = tar::Archive::new(reader);
        let entries = archive
            .entries()
            .map_err(|error| GemError::NotAGem(error.to_string()))?;
        for entry in entries {
            let entry = entry.map_err(|error| GemError::NotAGem(error.to_string()))?;
            let path = entry
                .path()
                .map_err(|error| GemError::NotAGem(error.to_string()))?
                .to_string_lossy()
                .into_owned();
            if path == "metadata.gz" {
                let mut yaml = String::new();
                flate2::read::GzDecoder::new(entry)
                    .take(MAX_METADATA_BYTES)
                    .read_to_string(&mut yaml)
                    .map_err(|error| {
                        GemError::Metadata(format!("`metadata.gz` does not inflate: {error}"))
                    })?;
                return Self::from_yaml(&yaml);
            }
        }
        Err(GemError::NotAGem(
            "no `metadata.gz` in the archive".to_owned(),
        ))
    }

    /// Read a gemspec from its YAML (`gem specification --yaml`, a gem's `metadata.gz`).
    ///
    /// # Errors
    /// [`GemError::Metadata`]: not YAML, or no valid name or version.
    pub fn from_yaml(yaml: &str) -> Result<Self, GemError> {
        let document: Value =
            serde_yaml::from_str(yaml).map_err(|error| GemError::Metadata(error.to_string()))?;
        let root = untag(&document);
        let field = |name: &str| root.get(name).map(untag);
        let name = field("name")
            .and_then(scalar)
            .ok_or_else(|| GemError::Metadata("no `name`".to_owned()))?;
        if !is_valid_name(&name) {
            return Err(GemError::Metadata(format!("invalid gem name `{name}`")));
        }
        let version = field("version")
            .and_then(version_of)
            .ok_or_else(|| GemError::Metadata("no `version`".to_owned()))?;
        if !is_valid_version(&version) {
            return Err(GemError::Metadata(format!("invalid version `{version}`")));
        }
        let platform = field("platform")
            .and_then(platform_of)
            .unwrap_or_else(|| "ruby".to_owned());
        if !is_valid_platform(&platform) {
            return Err(GemError::Metadata(format!("invalid platform `{platform}`")));
        }
        let dependencies = field("dependencies")
            .and_then(Value::as_sequence)
            .map(|sequence| {
                sequence
                    .iter()
                    .filter_map(|dependency| {
                        let dependency = untag(dependency);
                        let name = dependency.get("name").map(untag).and_then(scalar)?;
                        let requirement = dependency
                            .get("requirement")
                            .or_else(|| dependency.get("version_requirements"));
                        let kind = dependency
                            .get("type")
                            .map(untag)
                            .and_then(scalar)
                            .map_or_else(
                                || "runtime".to_owned(),
                                |kind| kind.trim_start_matches(':').to_owned(),
                            );
                        Some(Dependency {
                            name,
                            requirements: requirement.map(requirements_of).unwrap_or_default(),
                            kind,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let text = |name: &str| field(name).and_then(scalar).filter(|text| !text.is_empty());
        let list = |name: &str| match field(name) {
            Some(Value::Sequence(items)) => items.iter().map(untag).filter_map(scalar).collect(),
            Some(other) => scalar(other).into_iter().collect(),
            None => Vec::new(),
        };
        let metadata = match field("metadata") {
            Some(Value::Mapping(mapping)) => mapping
                .iter()
                .filter_map(|(key, value)| Some((scalar(untag(key))?, scalar(untag(value))?)))
                .collect(),
            _ => BTreeMap::new(),
        };
        let date = text("date")
            .map(|date| date.chars().take(10).collect::<String>())
            .filter(|date| is_date(date))
            .unwrap_or_default();
        Ok(Self {
            name,
            version,
            platform,
            dependencies,
            required_ruby_version: field("required_ruby_version")
                .map(requirements_of)
                .unwrap_or_default(),
            required_rubygems_version: field("required_rubygems_version")
                .map(requirements_of)
                .unwrap_or_default(),
            summary: text("summary").unwrap_or_default(),
            authors: list("authors"),
            email: list("email"),
            homepage: text("homepage"),
            description: text("description"),
            licenses: list("licenses"),
            metadata,
            rubygems_version: text("rubygems_version").unwrap_or_default(),
            specification_version: field("specification_version")
                .and_then(Value::as_i64)
                .unwrap_or(4),
            date,
        })
    }

    /// The runtime dependencies, as the compact index lists them.
    pub fn runtime_dependencies(&self) -> impl Iterator<Item = &Dependency> {
        self.dependencies
            .iter()
            .filter(|dependency| dependency.kind == "runtime")
    }
}

/// `YYYY-MM-DD`.
fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| {
            if index == 4 || index == 7 {
                *byte == b'-'
            } else {
                byte.is_ascii_digit()
            }
        })
}

/// The value under a YAML tag (`!ruby/object:Gem::Version`), or the value itself.
fn untag(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => untag(&tagged.value),
        other => other,
    }
}

/// A scalar as text (YAML reads `1.0` and `2` as numbers).
fn scalar(value: &Value) -> Option<String> {
    match untag(value) {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A `Gem::Version` (`{version: "1.0"}`) or a plain scalar.
fn version_of(value: &Value) -> Option<String> {
    let value = untag(value);
    value
        .get("version")
        .map(untag)
        .and_then(scalar)
        .or_else(|| scalar(value))
}

/// A platform: `ruby`, a string, or a `Gem::Platform` mapping (`cpu`, `os`, `version`).
fn platform_of(value: &Value) -> Option<String> {
    let value = untag(value);
    if let Some(text) = scalar(value) {
        return Some(text);
    }
    let part = |name: &str| value.get(name).map(untag).and_then(scalar);
    let parts: Vec<String> = [part("cpu"), part("os"), part("version")]
        .into_iter()
        .flatten()
        .collect();
    (!parts.is_empty()).then(|| parts.join("-"))
}

/// A `Gem::Requirement` (`{requirements: [[">=", {version: "1.0"}], ...]}`) as
/// `[">= 1.0", ...]`.
fn requirements_of(value: &Value) -> Vec<String> {
    let value = untag(value);
    let Some(pairs) = value
        .get("requirements")
        .map(untag)
        .and_then(Value::as_sequence)
    else {
        return Vec::new();
    };
    pairs
        .iter()
        .filter_map(|pair| {
            let pair = untag(pair).as_sequence()?;
            let operator = scalar(pair.first()?)?;
            let version = version_of(pair.get(1)?)?;
            Some(format!("{operator} {version}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"--- !ruby/object:Gem::Specification
name: lading-hello
version: !ruby/object:Gem::Version
  version: 0.1.0
platform: ruby
authors:
- lading
date: 2026-12-07 00:00:00.000000000 Z
dependencies:
- !ruby/object:Gem::Dependency
  name: lading-dep
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - ">="
      - !ruby/object:Gem::Version
        version: '1.0'
    - - "<"
      - !ruby/object:Gem::Version
        version: '3'
  type: :runtime
  prerelease: false
- !ruby/object:Gem::Dependency
  name: rake
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - "~>"
      - !ruby/object:Gem::Version
        version: 13
  type: :development
email:
licenses:
- MIT
metadata:
  source_code_uri: https://example.com/
required_ruby_version: !ruby/object:Gem::Requirement
  requirements:
  - - ">="
    - !ruby/object:Gem::Version
      version: '2.5'
rubygems_version: 3.3.15
specification_version: 4
summary: fixture
"#;

    #[test]
    fn reads_the_fields_of_ruby_tagged_yaml() {
        let spec = GemSpec::from_yaml(YAML).unwrap();
        assert_eq!(spec.name, "lading-hello");
        assert_eq!(spec.version, "0.1.0");
        assert_eq!(spec.platform, "ruby");
        assert_eq!(spec.date, "2026-12-07");
        assert_eq!(
            spec.dependencies,
            vec![
                Dependency {
                    name: "lading-dep".to_owned(),
                    requirements: vec![">= 1.0".to_owned(), "< 3".to_owned()],
                    kind: "runtime".to_owned(),
                },
                Dependency {
                    name: "rake".to_owned(),
                    requirements: vec!["~> 13".to_owned()],
                    kind: "development".to_owned(),
                },
            ]
        );
        assert_eq!(spec.required_ruby_version, vec![">= 2.5"]);
        assert!(spec.email.is_empty());
        assert_eq!(spec.metadata["source_code_uri"], "https://example.com/");
        assert_eq!(spec.file_name(), "lading-hello-0.1.0.gem");
    }

    #[test]
    fn refuses_names_and_versions_that_could_escape_a_path() {
        for bad in ["../x", "a/b", "", ".."] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        for bad in ["1.0/..", "", "a1", "1 0", "1.0-java"] {
            assert!(!is_valid_version(bad), "{bad}");
        }
        let yaml = YAML.replace("name: lading-hello", "name: ../evil");
        assert!(GemSpec::from_yaml(&yaml).is_err());
    }
}
