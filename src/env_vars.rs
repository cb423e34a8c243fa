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
    /// Tests: fail, instead of skip, when a real peer (npm, aws, python, ...) is missing.
    pub const LADING_TEST_REQUIRE_TOOLS: &'static str = "LADING_TEST_REQUIRE_TOOLS";
    /// npm's cache directory (`restore` writes `<it>/_cacache`); npm reads it case-insensitively.
    pub const NPM_CONFIG_CACHE_LOWER: &'static str = "npm_config_cache";
    /// npm's cache directory, upper-case spelling.
    pub const NPM_CONFIG_CACHE: &'static str = "NPM_CONFIG_CACHE";
    /// NuGet's global packages folder (default `~/.nuget/packages`).
    pub const NUGET_PACKAGES: &'static str = "NUGET_PACKAGES";
    /// Maven's JVM options; `-Dmaven.repo.local=DIR` there moves the local repository.
    pub const MAVEN_OPTS: &'static str = "MAVEN_OPTS";
    /// GitHub Actions: the file step outputs are appended to.
    pub const GITHUB_OUTPUT: &'static str = "GITHUB_OUTPUT";
    /// The user's home directory.
    pub const HOME: &'static str = "HOME";
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
