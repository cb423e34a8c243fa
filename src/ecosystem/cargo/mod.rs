//! Cargo: `lading login --tool cargo` writes an alternative registry (sparse index) into
//! `.cargo/config.toml` and its token into `credentials.toml` (0600), both with `toml_edit`
//! so comments, order and formatting of everything else survive.

pub mod config;
pub mod restore;
