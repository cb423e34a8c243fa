//! The [`Ecosystem`] trait each format folder implements to say which capabilities it has,
//! on the client and in `lading serve`. A leaf below the formats and [`super::registry`] (which names the formats), so a
//! format never has to import the registry.

use crate::ecosystem::configure::Configure;
use crate::ecosystem::pack::Pack;
use crate::ecosystem::publish::Publish;
use crate::ecosystem::restore::Restore;
use crate::format::Format;
use crate::server::data_plane::DataPlane;

/// One format's implementation: which capabilities it has. Each `ecosystem/<format>/`
/// implements it on a unit struct named after the format.
pub trait Ecosystem: Sync {
    /// The format.
    fn format(&self) -> Format;

    /// Configuring its client tools, when it has that.
    fn configure(&self) -> Option<&dyn Configure> {
        None
    }

    /// Restoring its lockfiles into the clients' caches, when it has that.
    fn restore(&self) -> Option<&dyn Restore> {
        None
    }

    /// Building its packages (`lading pack`), when it has that.
    fn pack(&self) -> Option<&dyn Pack> {
        None
    }

    /// Publishing its packages (`lading publish`), when it has that.
    fn publish(&self) -> Option<&dyn Publish> {
        None
    }

    /// Its data plane in `lading serve`, when it has one.
    fn data_plane(&self) -> Option<&'static dyn DataPlane> {
        None
    }
}
