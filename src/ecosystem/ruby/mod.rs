//! RubyGems: `lading login --tool gem` (the repository's API key in RubyGems' credentials
//! file, for `gem push`) and `--tool bundler` (the repository's credentials in Bundler's
//! config, for `bundle install`), edited line by line so the user's other keys survive.

pub mod config;
pub mod doctor;
pub mod gemfile_lock;
pub mod login;

/// The RubyGems format's client side (see [`crate::ecosystem::registry`]).
#[derive(Debug, Clone, Copy)]
pub struct Ruby;

impl crate::ecosystem::capabilities::Ecosystem for Ruby {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Ruby
    }

    fn configure(&self) -> Option<&dyn crate::ecosystem::configure::Configure> {
        Some(self)
    }
}
