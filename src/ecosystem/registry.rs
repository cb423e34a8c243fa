//! The registry of formats: for each [`Format`], the module that implements it and the
//! client capabilities it has. Commands ask here instead of matching on formats
//! themselves, so a format's code lives in its own folder (`ecosystem/<format>/`) and
//! [`ecosystem`] is the one line that names it.
//!
//! A format that lacks a capability answers with [`Unsupported`], which names the format
//! and the capability and says what to do instead.

use std::sync::LazyLock;

use crate::diagnostics::{Cause, Diagnostic, as_diagnostic};
pub use crate::ecosystem::capabilities::Ecosystem;
use crate::ecosystem::configure::Configure;
use crate::ecosystem::pack::Pack;
use crate::ecosystem::publish::Publish;
use crate::ecosystem::restore::Restorer;
use crate::format::{Format, PackFormat};
use crate::server::data_plane::DataPlane;

/// A client-side capability a format may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Point its client tools at a repository (`lading login`, `logout`, `exec`).
    Configure,
    /// Restore its lockfiles into the clients' caches (`lading restore`).
    Restore,
    /// Build its packages (`lading pack`).
    Pack,
    /// Publish its packages (`lading publish`).
    Publish,
}

impl Capability {
    /// What it does, as a verb phrase for messages.
    #[must_use]
    pub const fn verb(self) -> &'static str {
        match self {
            Self::Configure => "configure client tools for",
            Self::Restore => "restore lockfiles of",
            Self::Pack => "pack",
            Self::Publish => "publish",
        }
    }

    /// The command that uses it.
    #[must_use]
    pub const fn command(self) -> &'static str {
        match self {
            Self::Configure => "lading login",
            Self::Restore => "lading restore",
            Self::Pack => "lading pack",
            Self::Publish => "lading publish",
        }
    }

    /// Whether `ecosystem` has it.
    fn of(self, ecosystem: &dyn Ecosystem) -> bool {
        match self {
            Self::Configure => ecosystem.configure().is_some(),
            Self::Restore => ecosystem.restore().is_some(),
            Self::Pack => ecosystem.pack().is_some(),
            Self::Publish => ecosystem.publish().is_some(),
        }
    }
}

/// A format with no client capability yet (its server side may still exist).
#[derive(Debug)]
pub struct NotYet(pub Format);

impl Ecosystem for NotYet {
    fn format(&self) -> Format {
        self.0
    }
}

/// The module implementing `format`: the one place that lists them.
#[must_use]
pub fn ecosystem(format: Format) -> &'static dyn Ecosystem {
    match format {
        Format::Npm => &super::npm::Npm,
        Format::Pypi => &super::pypi::Pypi,
        Format::Maven => &super::maven::Maven,
        Format::Nuget => &super::nuget::Nuget,
        Format::Generic => &super::generic::Generic,
        Format::Cargo => &super::cargo::Cargo,
        Format::Ruby => &super::ruby::Ruby,
        Format::Swift => &super::swift::Swift,
    }
}

/// Every format's implementation, in [`Format::ALL`]'s order.
pub fn registry() -> impl Iterator<Item = &'static dyn Ecosystem> {
    Format::ALL.into_iter().map(ecosystem)
}

/// Every format's restorers, in [`Format::ALL`]'s order and each format's own: the order
/// `lading restore` recognises lockfiles in (the first that recognises a file takes it) and
/// runs them.
pub fn restorers() -> impl Iterator<Item = &'static dyn Restorer> {
    registry()
        .filter_map(Ecosystem::restore)
        .flat_map(|restore| restore.restorers().iter().copied())
}

/// The data planes `lading serve` mounts (`ServerOptions::data_planes`): every format's
/// [`Ecosystem::data_plane`], in [`Format::ALL`]'s order.
#[must_use]
pub fn data_planes() -> &'static [&'static dyn DataPlane] {
    static DATA_PLANES: LazyLock<Vec<&'static dyn DataPlane>> =
        LazyLock::new(|| registry().filter_map(Ecosystem::data_plane).collect());
    &DATA_PLANES
}

/// A format lacks a capability a command needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lading cannot {verb} {format} packages yet", verb = capability.verb(), format = format.display_name())]
pub struct Unsupported {
    /// The format.
    pub format: Format,
    /// What it lacks.
    pub capability: Capability,
}

/// Finds this module's errors in an error chain (see [`crate::diagnostics::Probe`]).
pub fn diagnostic(error: &Cause) -> Option<&dyn Diagnostic> {
    as_diagnostic::<Unsupported>(error)
}

impl Diagnostic for Unsupported {
    fn hint(&self) -> Option<String> {
        let able: Vec<&str> = match self.capability {
            // As `--format` spells them: generic assets are `zip` and `tar.gz`.
            Capability::Pack => PackFormat::all()
                .filter(|pack| self.capability.of(ecosystem(pack.format())))
                .map(PackFormat::name)
                .collect(),
            Capability::Configure | Capability::Restore | Capability::Publish => registry()
                .filter(|ecosystem| self.capability.of(*ecosystem))
                .map(|ecosystem| ecosystem.format().name())
                .collect(),
        };
        Some(format!(
            "use the format's own client for this step; `{}` supports: {}",
            self.capability.command(),
            able.join(", ")
        ))
    }
}

/// `format`'s [`Configure`].
///
/// # Errors
/// [`Unsupported`] when the format has none.
pub fn configurer(format: Format) -> Result<&'static dyn Configure, Unsupported> {
    ecosystem(format).configure().ok_or(Unsupported {
        format,
        capability: Capability::Configure,
    })
}

/// `format`'s [`Pack`].
///
/// # Errors
/// [`Unsupported`] when the format has none.
pub fn packer(format: Format) -> Result<&'static dyn Pack, Unsupported> {
    ecosystem(format).pack().ok_or(Unsupported {
        format,
        capability: Capability::Pack,
    })
}

/// `format`'s [`Publish`].
///
/// # Errors
/// [`Unsupported`] when the format has none.
pub fn publisher(format: Format) -> Result<&'static dyn Publish, Unsupported> {
    ecosystem(format).publish().ok_or(Unsupported {
        format,
        capability: Capability::Publish,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Tool;

    #[test]
    fn every_format_is_registered_under_its_own_name() {
        for format in Format::ALL {
            assert_eq!(ecosystem(format).format(), format);
        }
    }

    #[test]
    fn each_data_plane_serves_its_own_format_once() {
        let formats: Vec<Format> = data_planes().iter().map(|plane| plane.format()).collect();
        let served: Vec<Format> = registry()
            .filter(|ecosystem| ecosystem.data_plane().is_some())
            .map(Ecosystem::format)
            .collect();
        assert_eq!(formats, served);
        assert!(formats.contains(&Format::Npm), "{formats:?}");
    }

    #[test]
    fn every_tool_has_a_configurer_for_its_format() {
        for tool in Tool::ALL {
            assert!(configurer(tool.format()).is_ok(), "{tool}");
        }
    }

    #[test]
    fn a_missing_capability_names_the_format_and_what_can() {
        let error = configurer(Format::Generic).err().unwrap();
        assert_eq!(
            error.to_string(),
            "lading cannot configure client tools for generic packages yet"
        );
        assert_eq!(
            error.hint().unwrap(),
            "use the format's own client for this step; `lading login` supports: npm, pypi, maven, nuget, cargo, ruby, swift"
        );
    }

    #[test]
    fn restorers_run_in_registry_order_each_under_its_own_format() {
        let names: Vec<&str> = restorers().map(Restorer::name).collect();
        assert_eq!(
            names,
            [
                "npm",
                "yarn",
                "yarn-berry",
                "pnpm",
                "pypi",
                "maven",
                "nuget",
                "cargo",
                "bundler"
            ]
        );
        for format in Format::ALL {
            for restorer in ecosystem(format)
                .restore()
                .map_or(&[][..], |restore| restore.restorers())
            {
                assert_eq!(restorer.format(), format, "{}", restorer.name());
            }
        }
    }

    #[test]
    fn pack_and_publish_say_what_they_take_when_a_format_lacks_them() {
        let error = packer(Format::Swift).err().unwrap();
        assert_eq!(error.to_string(), "lading cannot pack Swift packages yet");
        assert_eq!(
            error.hint().unwrap(),
            "use the format's own client for this step; `lading pack` supports: zip, tar.gz, npm, pypi, maven, nuget, cargo, ruby"
        );
        let error = publisher(Format::Swift).err().unwrap();
        assert_eq!(
            error.hint().unwrap(),
            "use the format's own client for this step; `lading publish` supports: npm, pypi, maven, nuget, generic, cargo, ruby"
        );
        // Every archive packs (generic has the capability).
        assert!(packer(PackFormat::Zip.format()).is_ok());
    }
}
