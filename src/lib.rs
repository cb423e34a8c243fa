//! `lading`: a build step for artifact repositories.
//!
//! The binary (`src/main.rs`) is a thin shell over this library so that every module is
//! reachable from integration tests and documented as a public API. Data flows one way:
//! [`cli`] → [`commands`] → ([`config`], [`repository`]) → [`ecosystem`] → ([`http`], [`fsx`]).
//! [`server`] implements `lading serve` and shares the format parsers in [`ecosystem`].

pub mod archive;
pub mod cas;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnostics;
pub mod ecosystem;
pub mod env_vars;
pub mod fetcher;
pub mod format;
pub mod fsx;
pub mod http;
pub mod limiter;
pub mod printer;
pub mod provenance;
pub mod repository;
pub mod secret;
pub mod server;

/// The renderer for errors reaching `main`: every module that defines a
/// [`diagnostics::Diagnostic`] error adds its probe here (a module's probe covers its
/// child modules), so [`diagnostics`] itself needs no list of error types.
pub const DIAGNOSTICS: diagnostics::Diagnostics = diagnostics::Diagnostics::new(&[
    config::diagnostic,
    ecosystem::diagnostic,
    fetcher::diagnostic,
    format::diagnostic,
    http::diagnostic,
    repository::diagnostic,
    server::diagnostic,
]);
