//! Cargo: `lading login --tool cargo` writes an alternative registry (sparse index) into
//! `.cargo/config.toml` and its token into `credentials.toml` (0600), both with `toml_edit`
//! so comments, order and formatting of everything else survive. `pack.rs` takes the `.crate`
//! `cargo package` builds, `publish.rs` uploads it through the Web API as `cargo publish`
//! does. `serve/` is `lading serve`'s cargo registry (sparse index and Web API).

pub mod config;
pub mod login;
pub mod pack;
pub mod publish;
pub mod restore;
pub mod restorer;
pub mod serve;

/// The Cargo format's implementation: its capabilities (see [`crate::ecosystem::registry`]).
#[derive(Debug, Clone, Copy)]
pub struct Cargo;

impl crate::ecosystem::capabilities::Ecosystem for Cargo {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Cargo
    }

    fn configure(&self) -> Option<&dyn crate::ecosystem::configure::Configure> {
        Some(self)
    }

    fn data_plane(&self) -> Option<&'static dyn crate::server::data_plane::DataPlane> {
        Some(&serve::CargoDataPlane)
    }

    fn restore(&self) -> Option<&dyn crate::ecosystem::restore::Restore> {
        Some(self)
    }

    fn pack(&self) -> Option<&dyn crate::ecosystem::pack::Pack> {
        Some(self)
    }

    fn publish(&self) -> Option<&dyn crate::ecosystem::publish::Publish> {
        Some(self)
    }
}
