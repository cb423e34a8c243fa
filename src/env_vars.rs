//! Every environment variable lading reads, in one registry.
//!
//! Code reads variables only through these constants, so the reference docs can list them
//! and the test harness can scrub them (a CI runner's own `LADING_*` must never leak into a
//! test). Names carry the `LADING_` prefix unless they belong to another tool.

/// The registry of environment variables lading reads.
pub struct EnvVars;

impl EnvVars {
    /// Log filter in `tracing` syntax (`debug`, `lading=trace`); overrides `-v`.
    pub const LADING_LOG: &'static str = "LADING_LOG";
    /// Path of the pipeline config file; default `lading.yml` in the working directory.
    pub const LADING_CONFIG: &'static str = "LADING_CONFIG";
    /// `lading serve`: data directory (default `.lading/repo`).
    pub const LADING_SERVE_DATA: &'static str = "LADING_SERVE_DATA";
    /// `lading serve`: listen address (default `127.0.0.1:8470`).
    pub const LADING_SERVE_LISTEN: &'static str = "LADING_SERVE_LISTEN";
    /// `lading serve`: config file declaring principals, domains and repositories.
    pub const LADING_SERVE_CONFIG: &'static str = "LADING_SERVE_CONFIG";
    /// `lading serve`: base URL clients reach the server at, when it differs from the
    /// `Host` they send (a reverse proxy, a container port mapping).
    pub const LADING_SERVE_PUBLIC_URL: &'static str = "LADING_SERVE_PUBLIC_URL";
    /// `lading serve`: shift the server's clock by this many seconds (may be negative).
    /// Used to exercise token expiry and clock-skew refusal without waiting.
    pub const LADING_SERVE_CLOCK_OFFSET_SECONDS: &'static str = "LADING_SERVE_CLOCK_OFFSET_SECONDS";
    /// lading's cache directory (tokens, restored packages); default `$XDG_CACHE_HOME/lading`
    /// or `~/.cache/lading`.
    pub const LADING_CACHE_DIR: &'static str = "LADING_CACHE_DIR";
    /// `lading login`: directory for the per-job (ephemeral) config files; default
    /// `$RUNNER_TEMP/lading-login`, else `<cache dir>/login-v1/ephemeral`.
    pub const LADING_LOGIN_DIR: &'static str = "LADING_LOGIN_DIR";
    /// `lading login` / `logout`: the state file recording what login changed; default
    /// `<cache dir>/login-v1/state.json`.
    pub const LADING_LOGIN_STATE: &'static str = "LADING_LOGIN_STATE";
    /// Set by most CI systems; makes `lading login` default to `--target ephemeral`.
    pub const CI: &'static str = "CI";
    /// `true` on GitHub Actions runners.
    pub const GITHUB_ACTIONS: &'static str = "GITHUB_ACTIONS";
    /// GitHub Actions: file of env assignments for later steps.
    pub const GITHUB_ENV: &'static str = "GITHUB_ENV";
    /// GitHub Actions: file of step outputs.
    pub const GITHUB_OUTPUT: &'static str = "GITHUB_OUTPUT";
    /// GitHub Actions: a per-job temp directory.
    pub const RUNNER_TEMP: &'static str = "RUNNER_TEMP";
    /// The user's home directory.
    pub const HOME: &'static str = "HOME";
    /// XDG config directory (pip's user config lives under it).
    pub const XDG_CONFIG_HOME: &'static str = "XDG_CONFIG_HOME";
    /// npm: path of the user config file (`~/.npmrc` by default).
    pub const NPM_CONFIG_USERCONFIG: &'static str = "NPM_CONFIG_USERCONFIG";
    /// Tests: fail, instead of skip, when a real peer (npm, aws, python, ...) is missing.
    pub const LADING_TEST_REQUIRE_TOOLS: &'static str = "LADING_TEST_REQUIRE_TOOLS";
    /// Disable colour in output (<https://no-color.org>).
    pub const NO_COLOR: &'static str = "NO_COLOR";

    /// All `LADING_*` variables, for scrubbing a child environment in tests.
    pub const ALL: &'static [&'static str] = &[
        Self::LADING_LOG,
        Self::LADING_CONFIG,
        Self::LADING_SERVE_DATA,
        Self::LADING_SERVE_LISTEN,
        Self::LADING_SERVE_CONFIG,
        Self::LADING_SERVE_PUBLIC_URL,
        Self::LADING_SERVE_CLOCK_OFFSET_SECONDS,
        Self::LADING_CACHE_DIR,
        Self::LADING_LOGIN_DIR,
        Self::LADING_LOGIN_STATE,
    ];

    /// Read a variable, treating an empty value as unset.
    #[must_use]
    pub fn get(name: &str) -> Option<String> {
        #[expect(
            clippy::disallowed_methods,
            reason = "this is the one sanctioned reader"
        )]
        std::env::var(name).ok().filter(|value| !value.is_empty())
    }
}
