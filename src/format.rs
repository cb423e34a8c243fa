//! The package formats, in one place: every format AWS CodeArtifact knows, what is known
//! about each (its name as `lading.yml`, the command line and the CodeArtifact API spell
//! it, the files it holds, how a data-plane request carries the token), and the client
//! tools `lading login` configures for it.
//!
//! Everything else names a format through [`Format`] or a tool through [`Tool`]: no other
//! module keeps a list of format or tool names, and a `match` over either is exhaustive, so
//! adding a format is a compile error at every place that must decide something about it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::diagnostics::{Cause, Diagnostic, as_diagnostic};
use crate::secret::Secret;

/// A package format, as CodeArtifact's `PackageFormat` enumerates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// npm packages (`.tgz`), read by npm, pnpm, yarn and bun.
    Npm,
    /// Python distributions (wheels and sdists), read by pip, uv, poetry, published by twine.
    Pypi,
    /// Maven artifacts (a pom plus its jars), read by Maven and Gradle.
    Maven,
    /// NuGet packages (`.nupkg`), read by nuget and dotnet.
    Nuget,
    /// Generic assets: any files under a namespace, package and version.
    Generic,
    /// Rust crates (`.crate`) behind a sparse index, read by cargo.
    Cargo,
    /// Ruby gems (`.gem`), read by gem and bundler.
    Ruby,
    /// Swift packages (source archives), read by the Swift package manager.
    Swift,
}

/// How a format's clients send the token on data-plane requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Authorization: Bearer TOKEN` (npm's `_authToken`, cargo's registry token, swift).
    Bearer,
    /// `Authorization: Basic base64(USER:TOKEN)` (pip, twine, Maven, Gradle, NuGet, gem).
    Basic,
}

impl AuthScheme {
    /// The `Authorization` header value carrying `token` (and, for Basic, `user`).
    #[must_use]
    pub fn header(self, user: &str, token: &Secret<String>) -> Secret<String> {
        use base64::Engine as _;
        Secret::new(match self {
            Self::Bearer => format!("Bearer {}", token.expose()),
            Self::Basic => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", token.expose()))
            ),
        })
    }
}

impl Format {
    /// Every format, in CodeArtifact's order of support.
    pub const ALL: [Self; 8] = [
        Self::Npm,
        Self::Pypi,
        Self::Maven,
        Self::Nuget,
        Self::Generic,
        Self::Cargo,
        Self::Ruby,
        Self::Swift,
    ];

    /// The name `lading.yml`, `--format` and the CodeArtifact API (`PackageFormat`, the
    /// `format` query parameter, `packageFormat` in JSON) all use: `npm`, `pypi`, ...
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Npm => "npm",
            Self::Pypi => "pypi",
            Self::Maven => "maven",
            Self::Nuget => "nuget",
            Self::Generic => "generic",
            Self::Cargo => "cargo",
            Self::Ruby => "ruby",
            Self::Swift => "swift",
        }
    }

    /// The name people write in prose (`PyPI`, `NuGet`), for messages.
    #[must_use]
    pub const fn display_name(self) -> &'static str {
        match self {
            Self::Npm => "npm",
            Self::Pypi => "PyPI",
            Self::Maven => "Maven",
            Self::Nuget => "NuGet",
            Self::Generic => "generic",
            Self::Cargo => "Cargo",
            Self::Ruby => "RubyGems",
            Self::Swift => "Swift",
        }
    }

    /// The CodeArtifact SDK's value for this format.
    #[must_use]
    pub fn codeartifact(self) -> aws_sdk_codeartifact::types::PackageFormat {
        use aws_sdk_codeartifact::types::PackageFormat;
        match self {
            Self::Npm => PackageFormat::Npm,
            Self::Pypi => PackageFormat::Pypi,
            Self::Maven => PackageFormat::Maven,
            Self::Nuget => PackageFormat::Nuget,
            Self::Generic => PackageFormat::Generic,
            Self::Cargo => PackageFormat::Cargo,
            Self::Ruby => PackageFormat::Ruby,
            Self::Swift => PackageFormat::Swift,
        }
    }

    /// The package-URL type naming its packages in provenance (`pkg:npm/...`).
    #[must_use]
    pub const fn purl_type(self) -> &'static str {
        match self {
            Self::Npm => "npm",
            Self::Pypi => "pypi",
            Self::Maven => "maven",
            Self::Nuget => "nuget",
            Self::Generic => "generic",
            Self::Cargo => "cargo",
            Self::Ruby => "gem",
            Self::Swift => "swift",
        }
    }

    /// File-name endings of the package files it stores (empty for generic: any file).
    #[must_use]
    pub const fn file_extensions(self) -> &'static [&'static str] {
        match self {
            Self::Npm => &[".tgz"],
            Self::Pypi => &[".whl", ".tar.gz", ".zip"],
            Self::Maven => &[".pom", ".jar", ".war", ".aar", ".module"],
            Self::Nuget => &[".nupkg", ".snupkg"],
            Self::Generic => &[],
            Self::Cargo => &[".crate"],
            Self::Ruby => &[".gem"],
            Self::Swift => &[".zip"],
        }
    }

    /// How its clients send the token to the data plane. lading's own requests (`restore`,
    /// the `lading exec` proxy) send it the same way.
    #[must_use]
    pub const fn auth_scheme(self) -> AuthScheme {
        match self {
            Self::Npm | Self::Cargo | Self::Swift => AuthScheme::Bearer,
            Self::Pypi | Self::Maven | Self::Nuget | Self::Generic | Self::Ruby => {
                AuthScheme::Basic
            }
        }
    }

    /// The client tools `lading login` configures for it (empty: none yet).
    #[must_use]
    pub fn tools(self) -> Vec<Tool> {
        Tool::ALL
            .into_iter()
            .filter(|tool| tool.format() == self)
            .collect()
    }
}

impl AsRef<str> for Format {
    fn as_ref(&self) -> &str {
        self.name()
    }
}

impl fmt::Display for Format {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A name that is not a format, or a tool, lading knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Not a format name.
    #[error("unknown format `{0}` (known: {known})", known = names(Format::ALL.iter().map(|format| format.name())))]
    UnknownFormat(String),
    /// Not a tool name.
    #[error("unknown tool `{0}` (known: {known})", known = names(Tool::ALL.iter().map(|tool| tool.name())))]
    UnknownTool(String),
    /// Not a name `lading pack --format` takes.
    #[error("unknown format `{0}` (known: {known})", known = PackFormat::names())]
    UnknownPackFormat(String),
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

/// Finds this module's errors in an error chain (see [`crate::diagnostics::Probe`]).
pub fn diagnostic(error: &Cause) -> Option<&dyn Diagnostic> {
    as_diagnostic::<FormatError>(error)
}

impl Diagnostic for FormatError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::UnknownFormat(_) | Self::UnknownPackFormat(_) => {
                "format names are lowercase, as CodeArtifact spells them (`pypi`, not `PyPI`)"
                    .to_owned()
            }
            Self::UnknownTool(_) => {
                "name the package manager itself (`pnpm`, `gradle`), not its format".to_owned()
            }
        })
    }
}

impl FromStr for Format {
    type Err = FormatError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|format| format.name() == text)
            .ok_or_else(|| FormatError::UnknownFormat(text.to_owned()))
    }
}

/// A package manager `lading login` configures (`--tool`, `pipeline.tools`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    clap::ValueEnum,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// npm (`.npmrc`).
    Npm,
    /// pnpm (reads `.npmrc`).
    Pnpm,
    /// pip (`pip.conf` index-url, credentials in a 0600 netrc).
    Pip,
    /// twine (`.pypirc`, 0600).
    Twine,
    /// Maven (`settings.xml`).
    Maven,
    /// NuGet (`nuget.config`).
    Nuget,
    /// Yarn berry (2+: `.yarnrc.yml`, or `YARN_NPM_*` variables for `ephemeral`). Yarn 1
    /// reads `.npmrc`: configure it with `--tool npm`.
    Yarn,
    /// Cargo (`.cargo/config.toml` sparse registry + `credentials.toml` 0600, or
    /// `CARGO_REGISTRIES_<NAME>_*` variables for `ephemeral`).
    Cargo,
    /// Gradle (an init script reading the token from the environment or a 0600 file).
    Gradle,
    /// uv (an `[[index]]` marked `default` in `uv.toml`, credentials in a 0600 netrc; or
    /// `UV_DEFAULT_INDEX` and `NETRC` for `ephemeral`).
    Uv,
    /// Poetry (`repositories.<name>` in `config.toml`, `http-basic.<name>` in `auth.toml`,
    /// both 0600; or `POETRY_REPOSITORIES_*` / `POETRY_HTTP_BASIC_*` for `ephemeral`).
    Poetry,
    /// RubyGems' `gem push` (the repository's key in `~/.gem/credentials`, 0600; or
    /// `RUBYGEMS_HOST` and `GEM_HOST_API_KEY` for `ephemeral`).
    Gem,
    /// Bundler (`BUNDLE_<URL>` credentials in `~/.bundle/config`, 0600; or `BUNDLE_<HOST>`
    /// for `ephemeral`).
    Bundler,
    /// The Swift package manager (`registries.json` as `swift package-registry set` and
    /// `login --token` write it, the token in a 0600 netrc).
    Swift,
    /// The .NET CLI (`dotnet nuget`, `dotnet restore`): the same `NuGet.Config` as nuget.
    Dotnet,
}

impl Tool {
    /// Every tool, in `--tool`'s order.
    pub const ALL: [Self; 15] = [
        Self::Npm,
        Self::Pnpm,
        Self::Pip,
        Self::Twine,
        Self::Maven,
        Self::Nuget,
        Self::Yarn,
        Self::Cargo,
        Self::Gradle,
        Self::Uv,
        Self::Poetry,
        Self::Gem,
        Self::Bundler,
        Self::Swift,
        Self::Dotnet,
    ];

    /// The repository format this tool reads.
    #[must_use]
    pub const fn format(self) -> Format {
        match self {
            Self::Npm | Self::Pnpm | Self::Yarn => Format::Npm,
            Self::Pip | Self::Twine | Self::Uv | Self::Poetry => Format::Pypi,
            Self::Maven | Self::Gradle => Format::Maven,
            Self::Nuget | Self::Dotnet => Format::Nuget,
            Self::Cargo => Format::Cargo,
            Self::Gem | Self::Bundler => Format::Ruby,
            Self::Swift => Format::Swift,
        }
    }

    /// The name `--tool` and `pipeline.tools` take.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Npm => "npm",
            Self::Pnpm => "pnpm",
            Self::Pip => "pip",
            Self::Twine => "twine",
            Self::Maven => "maven",
            Self::Nuget => "nuget",
            Self::Yarn => "yarn",
            Self::Cargo => "cargo",
            Self::Gradle => "gradle",
            Self::Uv => "uv",
            Self::Poetry => "poetry",
            Self::Gem => "gem",
            Self::Bundler => "bundler",
            Self::Swift => "swift",
            Self::Dotnet => "dotnet",
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for Tool {
    type Err = FormatError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|tool| tool.name() == text)
            .ok_or_else(|| FormatError::UnknownTool(text.to_owned()))
    }
}

/// What `lading pack --format` builds: an archive of generic files, or a format's own
/// package (which the format's `Pack` capability builds, if it has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackFormat {
    /// A zip of the selected files (a generic asset).
    Zip,
    /// A gzip-compressed tar of the selected files (a generic asset).
    TarGz,
    /// The format's own package: an npm tarball, a nupkg, a Maven jar and pom, Python
    /// distributions. Never [`Format::Generic`], which is spelled `zip` or `tar.gz`.
    Package(Format),
}

impl PackFormat {
    /// The name `--format`, `packages[].format` and the pack manifest use.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Zip => "zip",
            Self::TarGz => "tar.gz",
            Self::Package(format) => format.name(),
        }
    }

    /// The name as `--format` takes it, if it is one.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "zip" => Some(Self::Zip),
            "tar.gz" => Some(Self::TarGz),
            _ => name
                .parse()
                .ok()
                .filter(|format| *format != Format::Generic)
                .map(Self::Package),
        }
    }

    /// Every value `--format` takes: the archives, then every format but generic.
    pub fn all() -> impl Iterator<Item = Self> {
        [Self::Zip, Self::TarGz].into_iter().chain(
            Format::ALL
                .into_iter()
                .filter(|format| *format != Format::Generic)
                .map(Self::Package),
        )
    }

    /// Every name `--format` takes, comma-separated (for messages).
    #[must_use]
    pub fn names() -> String {
        names(Self::all().map(Self::name))
    }

    /// The repository format it is published as (archives are generic assets).
    #[must_use]
    pub const fn format(self) -> Format {
        match self {
            Self::Zip | Self::TarGz => Format::Generic,
            Self::Package(format) => format,
        }
    }
}

impl FromStr for PackFormat {
    type Err = FormatError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_name(text).ok_or_else(|| FormatError::UnknownPackFormat(text.to_owned()))
    }
}

impl fmt::Display for PackFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_display_and_serde() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
            assert_eq!(format.to_string(), format.name());
            assert_eq!(
                serde_json::to_string(&format).unwrap(),
                format!("\"{}\"", format.name())
            );
            assert_eq!(
                serde_json::from_str::<Format>(&format!("\"{format}\"")).unwrap(),
                format
            );
        }
        for tool in Tool::ALL {
            assert_eq!(tool.name().parse::<Tool>(), Ok(tool));
            assert_eq!(tool.to_string(), tool.name());
            assert_eq!(
                serde_yaml::from_str::<Tool>(tool.name()).unwrap(),
                tool,
                "{tool}"
            );
        }
    }

    #[test]
    fn all_lists_every_variant_once() {
        let mut formats = Format::ALL.to_vec();
        formats.sort();
        formats.dedup();
        assert_eq!(formats.len(), Format::ALL.len());
        let mut tools = Tool::ALL.to_vec();
        tools.sort();
        tools.dedup();
        assert_eq!(tools.len(), Tool::ALL.len());
        // `--tool` takes exactly the names `pipeline.tools` takes.
        let clap_names: Vec<String> = <Tool as clap::ValueEnum>::value_variants()
            .iter()
            .filter_map(clap::ValueEnum::to_possible_value)
            .map(|value| value.get_name().to_owned())
            .collect();
        let names: Vec<&str> = Tool::ALL.iter().map(|tool| tool.name()).collect();
        assert_eq!(clap_names, names);
    }

    #[test]
    fn names_are_codeartifact_package_format_values() {
        for format in Format::ALL {
            assert_eq!(format.codeartifact().as_str(), format.name());
            assert_eq!(
                aws_sdk_codeartifact::types::PackageFormat::from(format.name()),
                format.codeartifact()
            );
        }
        // And every value the SDK knows is a format here.
        for value in aws_sdk_codeartifact::types::PackageFormat::values() {
            assert!(value.parse::<Format>().is_ok(), "{value}");
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let error = "PyPI".parse::<Format>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown format `PyPI` (known: npm, pypi, maven, nuget, generic, cargo, ruby, swift)"
        );
        assert!(error.hint().is_some());
        let error = "bundle".parse::<Tool>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown tool `bundle` (known: npm, pnpm, pip, twine, maven, nuget, yarn, cargo, gradle, uv, poetry, gem, bundler, swift, dotnet)"
        );
    }

    #[test]
    fn tools_belong_to_their_format() {
        assert_eq!(Format::Npm.tools(), [Tool::Npm, Tool::Pnpm, Tool::Yarn]);
        assert_eq!(Format::Maven.tools(), [Tool::Maven, Tool::Gradle]);
        assert_eq!(
            Format::Pypi.tools(),
            [Tool::Pip, Tool::Twine, Tool::Uv, Tool::Poetry]
        );
        assert_eq!(Format::Nuget.tools(), [Tool::Nuget, Tool::Dotnet]);
        assert_eq!(Format::Ruby.tools(), [Tool::Gem, Tool::Bundler]);
        assert_eq!(Format::Swift.tools(), [Tool::Swift]);
        assert!(Format::Generic.tools().is_empty());
    }

    #[test]
    fn npm_and_cargo_send_bearer_tokens_the_rest_basic() {
        assert_eq!(Format::Npm.auth_scheme(), AuthScheme::Bearer);
        assert_eq!(Format::Cargo.auth_scheme(), AuthScheme::Bearer);
        assert_eq!(Format::Pypi.auth_scheme(), AuthScheme::Basic);
        assert_eq!(Format::Maven.auth_scheme(), AuthScheme::Basic);
        assert_eq!(Format::Nuget.auth_scheme(), AuthScheme::Basic);
        let token = Secret::new("t".to_owned());
        assert_eq!(
            AuthScheme::Bearer.header("aws", &token).expose(),
            "Bearer t"
        );
        assert_eq!(
            AuthScheme::Basic.header("aws", &token).expose(),
            "Basic YXdzOnQ="
        );
    }
}
