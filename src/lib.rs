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
pub mod fsx;
pub mod http;
pub mod limiter;
pub mod printer;
pub mod provenance;
pub mod repository;
pub mod secret;
pub mod server;
