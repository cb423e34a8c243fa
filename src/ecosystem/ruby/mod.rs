//! RubyGems: `lading login --tool gem` (the repository's API key in RubyGems' credentials
//! file, for `gem push`) and `--tool bundler` (the repository's credentials in Bundler's
//! config, for `bundle install`), edited line by line so the user's other keys survive;
//! and `lading serve`'s data plane for `gem` and bundler (`serve.rs`): the `.gem` format
//! (`gem.rs`), the compact index (`compact_index.rs`) and Marshal gemspecs (`marshal.rs`).
//! `pack.rs` builds the `.gem` with `gem build` (or takes a built one), `publish.rs` pushes
//! it as `gem push` does and reads it back through the compact index.

pub mod compact_index;
pub mod config;
pub mod doctor;
pub mod gem;
pub mod gemfile_lock;
pub mod login;
pub mod marshal;
pub mod pack;
pub mod publish;
pub mod restorer;
pub mod serve;

/// The RubyGems format's implementation: its capabilities (see [`crate::ecosystem::registry`]).
#[derive(Debug, Clone, Copy)]
pub struct Ruby;

impl crate::ecosystem::capabilities::Ecosystem for Ruby {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Ruby
    }

    fn configure(&self) -> Option<&dyn crate::ecosystem::configure::Configure> {
        Some(self)
    }

    fn data_plane(&self) -> Option<&'static dyn crate::server::data_plane::DataPlane> {
        Some(&serve::RubyDataPlane)
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
