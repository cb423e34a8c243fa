//! Integration tests: one binary, a module per area (see tests/support for the peers).

#[path = "../support/mod.rs"]
mod support;

mod ci_action;
mod ci_buildspec;
mod cli;
mod client_security;
mod doctor;
mod exec;
mod format_model;
mod install_npm;
mod install_py;
mod login;
mod login_new_tools;
mod login_tools;
mod module_graph;
mod pack;
mod publish;
mod pull_through_npm;
mod pull_through_pypi;
mod rerun;
mod restore;
mod restore_formats;
mod restore_new_formats;
mod restore_pip_select;
mod run;
mod secrets;
mod serve_cargo;
mod serve_control_plane;
mod serve_control_plane_ops;
mod serve_external_connections;
mod serve_hardening;
mod serve_limits;
mod serve_maven;
mod serve_npm;
mod serve_nuget;
mod serve_object_store;
mod serve_operations;
mod serve_pypi;
mod serve_read_cache;
mod serve_security;
mod serve_storage;
mod serve_swift;
mod serve_upstream;
mod serve_upstream_formats;
mod test_support;
