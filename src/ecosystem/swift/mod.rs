//! Swift packages: `lading login --tool swift` writes what `swift package-registry set` and
//! `swift package-registry login --token` write (`registries.json` and a netrc entry), and
//! `lading serve` speaks the Swift package registry API ([`serve`]).

pub mod login;
pub mod registries;
pub mod serve;

/// The Swift format's client side (see [`crate::ecosystem::registry`]).
#[derive(Debug, Clone, Copy)]
pub struct Swift;

impl crate::ecosystem::capabilities::Ecosystem for Swift {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Swift
    }

    fn configure(&self) -> Option<&dyn crate::ecosystem::configure::Configure> {
        Some(self)
    }

    fn data_plane(&self) -> Option<&'static dyn crate::server::data_plane::DataPlane> {
        Some(&serve::SwiftDataPlane)
    }
}
