//! CI platform integration.

pub mod export;
