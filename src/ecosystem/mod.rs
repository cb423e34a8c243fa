//! One module per package format, owning everything format-specific. The server shares the
//! parsers here (package names, manifests); client code (config editors, cache writers)
//! joins them as the commands that need it land.

pub mod edit;
pub mod maven;
pub mod npm;
pub mod nuget;
pub mod pypi;
pub mod xml_edit;
