//! Swift packages: `lading login --tool swift` writes what `swift package-registry set` and
//! `swift package-registry login --token` write (`registries.json` and a netrc entry).

pub mod login;
pub mod registries;

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
}
