//! The `lading.yml` model: loading, validation with `file:line:column`, and templating.
//!
//! Unknown keys are errors (a typo in CI config should fail loudly, pointing at the line),
//! and every error names the file and position so a CI log is enough to fix it.

pub mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diagnostics::{Cause, Diagnostic, as_diagnostic};
use crate::format::{PackFormat, Tool};

/// Default config file name, looked up in the working directory.
pub const DEFAULT_FILE_NAME: &str = "lading.yml";

/// A `lading.yml` file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Config {
    /// Repositories by name; commands pick one with `--repository-name` or use `default`.
    #[serde(default)]
    pub repositories: BTreeMap<String, RepositoryConfig>,
    /// What `lading run` does besides packing and publishing (see [`PipelineConfig`]).
    #[serde(default)]
    pub pipeline: Option<PipelineConfig>,
    /// Packages `lading run` packs and publishes, in order.
    #[serde(default)]
    pub packages: Vec<PackageConfig>,
}

/// `pipeline:` in `lading.yml`: the steps of `lading run` around pack and publish.
///
/// Every path is relative to the directory holding `lading.yml`, and every step runs there.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct PipelineConfig {
    /// Package managers `lading login` configures, named as `--tool` names them
    /// ([`Tool`]); empty skips login and logout.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Directories whose lockfiles `lading restore` fetches, in order; empty skips restore.
    #[serde(default)]
    pub restore: Vec<PathBuf>,
    /// Shell command (`sh -c`) run after restore when `lading run` gets none after `--`.
    #[serde(default)]
    pub build: Option<String>,
    /// Where packages are packed, one subdirectory each (default `.lading/out`).
    #[serde(default)]
    pub out: Option<PathBuf>,
    /// Whether to publish what was packed (default true).
    #[serde(default)]
    pub publish: Option<bool>,
}

/// One entry of `packages:`: the options of one `lading pack` call.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct PackageConfig {
    /// `zip`, `tar.gz`, `npm`, `nuget`, `maven` or `pypi`.
    pub format: String,
    /// Package name (template); for maven `groupId:artifactId`.
    #[serde(default)]
    pub name: Option<String>,
    /// Package version (template).
    #[serde(default)]
    pub version: Option<String>,
    /// Directory the files are relative to (default: the config's directory).
    #[serde(default)]
    pub base: Option<PathBuf>,
    /// Globs relative to `base`; `!glob` excludes.
    #[serde(default)]
    pub files: Vec<String>,
    /// nuget: the nuspec.
    #[serde(default)]
    pub nuspec: Option<PathBuf>,
    /// maven: the pom.
    #[serde(default)]
    pub pom: Option<PathBuf>,
    /// Lockfiles whose dependencies go into the provenance.
    #[serde(default)]
    pub lockfiles: Vec<PathBuf>,
}

/// The kind of repository.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RepositoryKind {
    /// An AWS CodeArtifact repository (or `lading serve` standing in for one).
    Codeartifact,
    /// Any registry reachable by URL with a token.
    Url,
}

/// Where packages live. A flat struct rather than a tagged enum so that parse errors keep
/// their exact line and column (serde buffers tagged enums and loses positions).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct RepositoryConfig {
    /// `codeartifact` or `url`.
    pub kind: RepositoryKind,
    /// CodeArtifact: domain name.
    #[serde(default)]
    pub domain: Option<String>,
    /// CodeArtifact: 12-digit account that owns the domain.
    #[serde(default)]
    pub domain_owner: Option<String>,
    /// CodeArtifact: repository name.
    #[serde(default)]
    pub repository: Option<String>,
    /// CodeArtifact: AWS region.
    #[serde(default)]
    pub region: Option<String>,
    /// CodeArtifact: control-plane endpoint override (VPC endpoint, `lading serve`).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// CodeArtifact: token lifetime in seconds, 0 or 900 to 43200.
    #[serde(default)]
    pub duration_seconds: Option<u64>,
    /// URL: registry base URL.
    #[serde(default)]
    pub url: Option<String>,
    /// URL: environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// URL: file holding the token.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

/// Errors loading `lading.yml`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or does not match the model.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The values are well-formed but invalid.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Finds this module's errors in an error chain (see [`crate::diagnostics::Probe`]).
pub fn diagnostic(error: &Cause) -> Option<&dyn Diagnostic> {
    as_diagnostic::<ConfigError>(error)
}

impl Diagnostic for ConfigError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Read { .. } => Some(format!(
                "create `{DEFAULT_FILE_NAME}`, or pass `--config <file>`"
            )),
            Self::Parse { message, .. } if message.contains("unknown field") => {
                Some("check the key's spelling; see `lading --help` for the file's keys".to_owned())
            }
            Self::Parse { .. } | Self::Invalid { .. } => None,
        }
    }
}

impl Config {
    /// Load and validate a config file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and, for syntax and shape errors, the line and column.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = fs_err::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parse config text; `path` is only used in messages.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] or [`ConfigError::Invalid`].
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let config: Self = serde_yaml::from_str(text).map_err(|error| {
            let (line, column) = error
                .location()
                .map_or((1, 1), |location| (location.line(), location.column()));
            // serde_yaml appends " at line X column Y"; we print the position up front.
            let message = error.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        })?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        if let Some(pipeline) = &self.pipeline {
            for tool in &pipeline.tools {
                if let Err(error) = tool.parse::<Tool>() {
                    return Err(invalid(format!("pipeline.tools: {error}")));
                }
            }
        }
        for (index, package) in self.packages.iter().enumerate() {
            if PackFormat::from_name(&package.format).is_none() {
                return Err(invalid(format!(
                    "packages[{index}].format: unknown format `{}` (known: {})",
                    package.format,
                    PackFormat::names()
                )));
            }
        }
        for (name, repository) in &self.repositories {
            let invalid = |message: String| ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("repositories.{name}: {message}"),
            };
            let codeartifact_only = [
                ("domain", repository.domain.is_some()),
                ("domain_owner", repository.domain_owner.is_some()),
                ("repository", repository.repository.is_some()),
                ("region", repository.region.is_some()),
                ("endpoint_url", repository.endpoint_url.is_some()),
                ("duration_seconds", repository.duration_seconds.is_some()),
            ];
            let url_only = [
                ("url", repository.url.is_some()),
                ("token_env", repository.token_env.is_some()),
                ("token_file", repository.token_file.is_some()),
            ];
            let (foreign, kind) = match repository.kind {
                RepositoryKind::Codeartifact => (url_only.as_slice(), "codeartifact"),
                RepositoryKind::Url => (codeartifact_only.as_slice(), "url"),
            };
            if let Some((key, _)) = foreign.iter().find(|(_, set)| *set) {
                return Err(invalid(format!("`{key}` does not apply to `kind: {kind}`")));
            }
            match repository.kind {
                RepositoryKind::Codeartifact => {
                    if repository.domain.is_none() || repository.repository.is_none() {
                        return Err(invalid(
                            "`kind: codeartifact` needs `domain` and `repository`".to_owned(),
                        ));
                    }
                    if let Some(owner) = &repository.domain_owner
                        && (owner.len() != 12 || !owner.bytes().all(|byte| byte.is_ascii_digit()))
                    {
                        return Err(invalid(format!(
                            "`domain_owner` must be a 12-digit account id, got `{owner}`"
                        )));
                    }
                    if let Some(duration) = repository.duration_seconds
                        && duration != 0
                        && !(900..=43_200).contains(&duration)
                    {
                        return Err(invalid(format!(
                            "`duration_seconds` must be 0 or 900..=43200, got {duration}"
                        )));
                    }
                }
                RepositoryKind::Url => {
                    let Some(url) = &repository.url else {
                        return Err(invalid("`kind: url` needs `url`".to_owned()));
                    };
                    if url::Url::parse(url).is_err() {
                        return Err(invalid(format!("`url` is not an absolute URL: `{url}`")));
                    }
                    if repository.token_env.is_some() && repository.token_file.is_some() {
                        return Err(invalid(
                            "set `token_env` or `token_file`, not both".to_owned(),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_file_line_and_column() {
        let text = "repositories:\n  main:\n    kind: codeartifact\n    domain: local\n    repositry: main\n";
        let error = Config::parse(Path::new("lading.yml"), text).unwrap_err();
        let shown = error.to_string();
        assert!(shown.starts_with("lading.yml:5:5: "), "{shown}");
        assert!(shown.contains("unknown field `repositry`"), "{shown}");
        assert!(error.hint().is_some());
    }

    #[test]
    fn parses_both_repository_kinds() {
        let text = "repositories:\n  ca:\n    kind: codeartifact\n    domain: local\n    repository: main\n    duration_seconds: 900\n  npm:\n    kind: url\n    url: https://registry.example.com/\n    token_env: NPM_TOKEN\n";
        let config = Config::parse(Path::new("lading.yml"), text).unwrap();
        assert_eq!(config.repositories.len(), 2);
        assert_eq!(config.repositories["ca"].kind, RepositoryKind::Codeartifact);
        assert_eq!(config.repositories["ca"].duration_seconds, Some(900));
        assert_eq!(
            config.repositories["npm"].token_env.as_deref(),
            Some("NPM_TOKEN")
        );
    }

    #[test]
    fn parses_pipeline_and_packages() {
        let text = "pipeline:\n  tools: [npm]\n  restore: [npm]\n  build: make\npackages:\n  - format: tar.gz\n    name: app\n    version: 1.0.0\n    base: generic\n    files: ['dist/**', '!**/*.map']\n";
        let config = Config::parse(Path::new("lading.yml"), text).unwrap();
        let pipeline = config.pipeline.unwrap();
        assert_eq!(pipeline.tools, ["npm"]);
        assert_eq!(pipeline.build.as_deref(), Some("make"));
        assert_eq!(config.packages[0].files, ["dist/**", "!**/*.map"]);
        assert!(config.repositories.is_empty());
    }

    #[test]
    fn unknown_format_and_tool_are_refused() {
        let error = Config::parse(Path::new("x.yml"), "packages:\n  - format: rpm\n").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("x.yml: packages[0].format: unknown format `rpm`"),
            "{error}"
        );
        let error =
            Config::parse(Path::new("x.yml"), "pipeline:\n  tools: [zypper]\n").unwrap_err();
        assert!(
            error.to_string().contains("unknown tool `zypper`"),
            "{error}"
        );
    }

    #[test]
    fn invalid_duration_is_refused() {
        let text = "repositories:\n  ca:\n    kind: codeartifact\n    domain: local\n    repository: main\n    duration_seconds: 60\n";
        let error = Config::parse(Path::new("x.yml"), text).unwrap_err();
        assert_eq!(
            error.to_string(),
            "x.yml: repositories.ca: `duration_seconds` must be 0 or 900..=43200, got 60"
        );
    }
}
