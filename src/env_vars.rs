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
    /// `lading serve --blobs`: where blobs live (`s3://BUCKET/PREFIX`; default the data
    /// directory).
    pub const LADING_SERVE_BLOBS: &'static str = "LADING_SERVE_BLOBS";
    /// `lading serve --index`: the PostgreSQL database holding the index
    /// (`postgres://USER:PASSWORD@HOST:PORT/DB`; default SQLite in the data directory).
    pub const LADING_SERVE_INDEX: &'static str = "LADING_SERVE_INDEX";
    /// `lading serve`: shift the server's clock by this many seconds (may be negative).
    /// Used to exercise token expiry and clock-skew refusal without waiting.
    pub const LADING_SERVE_CLOCK_OFFSET_SECONDS: &'static str = "LADING_SERVE_CLOCK_OFFSET_SECONDS";
    /// lading's cache directory (tokens, restored packages); default `$XDG_CACHE_HOME/lading`
    /// or `~/.cache/lading`.
    pub const LADING_CACHE_DIR: &'static str = "LADING_CACHE_DIR";
    /// `lading restore`: the most bytes one archive (a `.nupkg`) may unpack to, default 4 GiB
    /// (an archive also may not unpack to more than 100 times its size once past 16 MiB):
    /// a zip bomb fails the restore instead of filling the disk.
    pub const LADING_RESTORE_MAX_UNPACKED_BYTES: &'static str = "LADING_RESTORE_MAX_UNPACKED_BYTES";
    /// `lading pack`: PEM (PKCS#8 ed25519 or ECDSA P-256) private key that signs the
    /// provenance envelope, when `--signing-key` names no file.
    pub const LADING_SIGNING_KEY: &'static str = "LADING_SIGNING_KEY";
    /// Reproducible builds: the timestamp every archive entry and the provenance's `startedOn`
    /// carry (seconds since 1970); default the commit time.
    /// <https://reproducible-builds.org/specs/source-date-epoch/>
    pub const SOURCE_DATE_EPOCH: &'static str = "SOURCE_DATE_EPOCH";

    // CI platform variables, read to identify the run in provenance (PROTOCOLS.md §6.2).
    /// GitHub Actions: set to `true` on every runner.
    pub const GITHUB_ACTIONS: &'static str = "GITHUB_ACTIONS";
    /// GitHub Actions: `https://github.com` or the GHES URL.
    pub const GITHUB_SERVER_URL: &'static str = "GITHUB_SERVER_URL";
    /// GitHub Actions: `owner/repo`.
    pub const GITHUB_REPOSITORY: &'static str = "GITHUB_REPOSITORY";
    /// GitHub Actions: workflow run id.
    pub const GITHUB_RUN_ID: &'static str = "GITHUB_RUN_ID";
    /// GitHub Actions: attempt of the run.
    pub const GITHUB_RUN_ATTEMPT: &'static str = "GITHUB_RUN_ATTEMPT";
    /// GitHub Actions: run number.
    pub const GITHUB_RUN_NUMBER: &'static str = "GITHUB_RUN_NUMBER";
    /// GitHub Actions: commit being built.
    pub const GITHUB_SHA: &'static str = "GITHUB_SHA";
    /// GitHub Actions: full ref (`refs/tags/v1.2.3`).
    pub const GITHUB_REF: &'static str = "GITHUB_REF";
    /// GitHub Actions: short ref (`v1.2.3`).
    pub const GITHUB_REF_NAME: &'static str = "GITHUB_REF_NAME";
    /// GitHub Actions: `owner/repo/.github/workflows/x.yml@refs/heads/main`.
    pub const GITHUB_WORKFLOW_REF: &'static str = "GITHUB_WORKFLOW_REF";
    /// GitHub Actions: triggering event.
    pub const GITHUB_EVENT_NAME: &'static str = "GITHUB_EVENT_NAME";
    /// GitHub Actions: numeric repository id.
    pub const GITHUB_REPOSITORY_ID: &'static str = "GITHUB_REPOSITORY_ID";
    /// GitHub Actions: numeric owner id.
    pub const GITHUB_REPOSITORY_OWNER_ID: &'static str = "GITHUB_REPOSITORY_OWNER_ID";
    /// GitHub Actions: `github-hosted` or `self-hosted`.
    pub const RUNNER_ENVIRONMENT: &'static str = "RUNNER_ENVIRONMENT";
    /// CodeBuild: `arn:aws:codebuild:<region>:<account>:build/<project>:<uuid>`.
    pub const CODEBUILD_BUILD_ARN: &'static str = "CODEBUILD_BUILD_ARN";
    /// CodeBuild: `<project>:<uuid>`.
    pub const CODEBUILD_BUILD_ID: &'static str = "CODEBUILD_BUILD_ID";
    /// CodeBuild: build number.
    pub const CODEBUILD_BUILD_NUMBER: &'static str = "CODEBUILD_BUILD_NUMBER";
    /// CodeBuild: commit id of a Git source.
    pub const CODEBUILD_RESOLVED_SOURCE_VERSION: &'static str = "CODEBUILD_RESOLVED_SOURCE_VERSION";
    /// CodeBuild: requested source version (branch, tag, `pr/N`, commit).
    pub const CODEBUILD_SOURCE_VERSION: &'static str = "CODEBUILD_SOURCE_VERSION";
    /// CodeBuild: source repository URL.
    pub const CODEBUILD_SOURCE_REPO_URL: &'static str = "CODEBUILD_SOURCE_REPO_URL";
    /// CodeBuild: who started the build.
    pub const CODEBUILD_INITIATOR: &'static str = "CODEBUILD_INITIATOR";
    /// CodeBuild: webhook head ref (`refs/heads/main`), for webhook builds.
    pub const CODEBUILD_WEBHOOK_HEAD_REF: &'static str = "CODEBUILD_WEBHOOK_HEAD_REF";
    /// Jenkins: the controller URL (with `BUILD_ID`, marks a Jenkins build).
    pub const JENKINS_URL: &'static str = "JENKINS_URL";
    /// Jenkins: build id.
    pub const BUILD_ID: &'static str = "BUILD_ID";
    /// Jenkins: build number.
    pub const BUILD_NUMBER: &'static str = "BUILD_NUMBER";
    /// Jenkins: full URL of the run.
    pub const BUILD_URL: &'static str = "BUILD_URL";
    /// Jenkins: job name.
    pub const JOB_NAME: &'static str = "JOB_NAME";
    /// Jenkins Git plugin: commit.
    pub const GIT_COMMIT: &'static str = "GIT_COMMIT";
    /// Jenkins Git plugin: remote URL.
    pub const GIT_URL: &'static str = "GIT_URL";
    /// Jenkins Git plugin: branch (`origin/main`).
    pub const GIT_BRANCH: &'static str = "GIT_BRANCH";
    /// `lading login`: directory for the per-job (ephemeral) config files; default
    /// `$RUNNER_TEMP/lading-login`, else `<cache dir>/login-v1/ephemeral`.
    pub const LADING_LOGIN_DIR: &'static str = "LADING_LOGIN_DIR";
    /// `lading login` / `logout`: the state file recording what login changed; default
    /// `<cache dir>/login-v1/state.json`.
    pub const LADING_LOGIN_STATE: &'static str = "LADING_LOGIN_STATE";
    /// Set by most CI systems; makes `lading login` default to `--target ephemeral`.
    pub const CI: &'static str = "CI";
    /// GitHub Actions: file of env assignments for later steps.
    pub const GITHUB_ENV: &'static str = "GITHUB_ENV";
    /// GitHub Actions: file of step outputs.
    pub const GITHUB_OUTPUT: &'static str = "GITHUB_OUTPUT";
    /// GitHub Actions: the step summary file (`lading publish` appends a table).
    pub const GITHUB_STEP_SUMMARY: &'static str = "GITHUB_STEP_SUMMARY";
    /// GitHub Actions: a per-job temp directory.
    pub const RUNNER_TEMP: &'static str = "RUNNER_TEMP";
    /// The user's home directory.
    pub const HOME: &'static str = "HOME";
    /// The executable search path: `lading restore --install` finds the `npm` whose version
    /// npm's `engines` check would compare through it.
    pub const PATH: &'static str = "PATH";
    /// Node's environment: `production` makes `lading restore --install` omit dev
    /// dependencies by default, as `npm ci` does.
    pub const NODE_ENV: &'static str = "NODE_ENV";
    /// XDG config directory (pip's user config lives under it).
    pub const XDG_CONFIG_HOME: &'static str = "XDG_CONFIG_HOME";
    /// Gradle's user home (`~/.gradle` by default): `init.d/` scripts run on every build.
    pub const GRADLE_USER_HOME: &'static str = "GRADLE_USER_HOME";
    /// Poetry's config directory (`config.toml`, `auth.toml`).
    pub const POETRY_CONFIG_DIR: &'static str = "POETRY_CONFIG_DIR";
    /// Bundler's user config file (`~/.bundle/config` by default).
    pub const BUNDLE_USER_CONFIG: &'static str = "BUNDLE_USER_CONFIG";
    /// Bundler's user directory (`~/.bundle` by default), holding `config`.
    pub const BUNDLE_USER_HOME: &'static str = "BUNDLE_USER_HOME";
    /// uv's default index (what `lading login --tool uv --target ephemeral` exports);
    /// `lading doctor` reports it.
    pub const UV_DEFAULT_INDEX: &'static str = "UV_DEFAULT_INDEX";
    /// Cargo's home (`~/.cargo` by default): `config.toml` and `credentials.toml`.
    pub const CARGO_HOME: &'static str = "CARGO_HOME";
    /// npm: path of the user config file (`~/.npmrc` by default).
    pub const NPM_CONFIG_USERCONFIG: &'static str = "NPM_CONFIG_USERCONFIG";
    /// npm's `omit-lockfile-registry-resolved` (lowercase spelling; the uppercase one is read
    /// too): `lading restore --install` then leaves registry entries' `resolved` out of
    /// `node_modules/.package-lock.json`, as npm does.
    pub const NPM_CONFIG_OMIT_LOCKFILE_REGISTRY_RESOLVED_LOWER: &'static str =
        "npm_config_omit_lockfile_registry_resolved";
    /// npm's `omit-lockfile-registry-resolved`, uppercase spelling.
    pub const NPM_CONFIG_OMIT_LOCKFILE_REGISTRY_RESOLVED: &'static str =
        "NPM_CONFIG_OMIT_LOCKFILE_REGISTRY_RESOLVED";
    /// npm's `engine-strict` (lowercase spelling; the uppercase one is read too, then the
    /// project's and the user's `.npmrc`): `lading restore --install` then fails, as `npm ci`
    /// does, on a package that is not optional whose `engines` exclude the running node or
    /// npm, instead of warning.
    pub const NPM_CONFIG_ENGINE_STRICT_LOWER: &'static str = "npm_config_engine_strict";
    /// npm's `engine-strict`, uppercase spelling.
    pub const NPM_CONFIG_ENGINE_STRICT: &'static str = "NPM_CONFIG_ENGINE_STRICT";
    /// Tests: fail, instead of skip, when a real peer (npm, aws, python, ...) is missing.
    pub const LADING_TEST_REQUIRE_TOOLS: &'static str = "LADING_TEST_REQUIRE_TOOLS";
    /// Tests: a PostgreSQL cluster to create test databases in
    /// (`postgres://postgres@127.0.0.1:PORT/postgres`, trust authentication; `.ci/run` starts
    /// one). Unset, a test needing one starts its own with `initdb` / `pg_ctl` from
    /// `LADING_TEST_POSTGRES_BIN`.
    pub const LADING_TEST_POSTGRES_URL: &'static str = "LADING_TEST_POSTGRES_URL";
    /// Tests: the directory holding PostgreSQL's `initdb` and `pg_ctl`
    /// (default `/usr/lib/postgresql/15/bin`).
    pub const LADING_TEST_POSTGRES_BIN: &'static str = "LADING_TEST_POSTGRES_BIN";
    /// Tests: rewrite the README's generated blocks (this table) instead of failing when they
    /// no longer match their source.
    pub const LADING_TEST_BLESS: &'static str = "LADING_TEST_BLESS";
    /// npm's cache directory (`restore` writes `<it>/_cacache`); npm reads it case-insensitively.
    pub const NPM_CONFIG_CACHE_LOWER: &'static str = "npm_config_cache";
    /// npm's cache directory, upper-case spelling.
    pub const NPM_CONFIG_CACHE: &'static str = "NPM_CONFIG_CACHE";
    /// NuGet's global packages folder (default `~/.nuget/packages`).
    pub const NUGET_PACKAGES: &'static str = "NUGET_PACKAGES";
    /// The active virtual environment: `restore --install` installs pip lockfiles into it
    /// when `--venv` is not given (else `.venv`).
    pub const VIRTUAL_ENV: &'static str = "VIRTUAL_ENV";
    /// pnpm 12's store directory setting (`store-dir` as a variable).
    pub const PNPM_CONFIG_STORE_DIR: &'static str = "pnpm_config_store_dir";
    /// pnpm 10's store directory setting (npm-style variable).
    pub const NPM_CONFIG_STORE_DIR: &'static str = "npm_config_store_dir";
    /// pnpm's home (`pnpm setup`, pnpm/action-setup); its store is `$PNPM_HOME/store`.
    pub const PNPM_HOME: &'static str = "PNPM_HOME";
    /// XDG data directory (pnpm's store default is under it).
    pub const XDG_DATA_HOME: &'static str = "XDG_DATA_HOME";
    /// Windows: the local application data directory (pnpm's store default there).
    pub const LOCALAPPDATA: &'static str = "LOCALAPPDATA";
    /// yarn 2+'s global folder; `restore` puts berry cache archives in its `cache/`
    /// (default: `$XDG_DATA_HOME/yarn/berry`, else `~/.yarn/berry`).
    pub const YARN_GLOBAL_FOLDER: &'static str = "YARN_GLOBAL_FOLDER";
    /// yarn 1's offline mirror (`yarn-offline-mirror`), where `restore` puts yarn tarballs.
    pub const YARN_YARN_OFFLINE_MIRROR: &'static str = "YARN_YARN_OFFLINE_MIRROR";
    /// Maven's JVM options; `-Dmaven.repo.local=DIR` there moves the local repository.
    pub const MAVEN_OPTS: &'static str = "MAVEN_OPTS";
    /// Disable colour in output (<https://no-color.org>).
    pub const NO_COLOR: &'static str = "NO_COLOR";

    /// `lading run`/`lading exec`: the binary child steps run (default: this executable).
    pub const LADING_RUN_BINARY: &'static str = "LADING_RUN_BINARY";
    /// Set by `lading run` and `lading exec` for their children: the data-plane base the
    /// steps use (the embedded repository's URL, or `lading exec`'s proxy).
    pub const LADING_REPOSITORY_URL: &'static str = "LADING_REPOSITORY_URL";
    /// AWS SDK: the shared credentials file (set for steps run against the embedded repository).
    pub const AWS_SHARED_CREDENTIALS_FILE: &'static str = "AWS_SHARED_CREDENTIALS_FILE";
    /// AWS SDK: the shared config file.
    pub const AWS_CONFIG_FILE: &'static str = "AWS_CONFIG_FILE";
    /// AWS SDK: the profile.
    pub const AWS_PROFILE: &'static str = "AWS_PROFILE";
    /// AWS SDK: static access key id (removed for embedded-repository steps).
    pub const AWS_ACCESS_KEY_ID: &'static str = "AWS_ACCESS_KEY_ID";
    /// The role web identity credentials (EKS IRSA, GitHub OIDC) assume.
    pub const AWS_ROLE_ARN: &'static str = "AWS_ROLE_ARN";
    /// AWS SDK: static secret key.
    pub const AWS_SECRET_ACCESS_KEY: &'static str = "AWS_SECRET_ACCESS_KEY";
    /// AWS SDK: session token.
    pub const AWS_SESSION_TOKEN: &'static str = "AWS_SESSION_TOKEN";
    /// AWS SDK: region.
    pub const AWS_REGION: &'static str = "AWS_REGION";
    /// AWS SDK: the S3 endpoint (an S3-compatible server for `lading serve --blobs`); read
    /// by the SDK itself, and by lading to choose path-style addressing.
    pub const AWS_ENDPOINT_URL_S3: &'static str = "AWS_ENDPOINT_URL_S3";
    /// `lading doctor`: the Python whose pip is asked (default `python3`).
    pub const LADING_DOCTOR_PYTHON: &'static str = "LADING_DOCTOR_PYTHON";
    /// `lading doctor`: nuget.exe run with mono (default `nuget` on PATH).
    pub const LADING_DOCTOR_NUGET_EXE: &'static str = "LADING_DOCTOR_NUGET_EXE";

    /// All `LADING_*` variables, for scrubbing a child environment in tests.
    pub const ALL: &'static [&'static str] = &[
        Self::LADING_LOG,
        Self::LADING_CONFIG,
        Self::LADING_SERVE_DATA,
        Self::LADING_SERVE_LISTEN,
        Self::LADING_SERVE_CONFIG,
        Self::LADING_SERVE_PUBLIC_URL,
        Self::LADING_SERVE_BLOBS,
        Self::LADING_SERVE_INDEX,
        Self::LADING_SERVE_CLOCK_OFFSET_SECONDS,
        Self::LADING_CACHE_DIR,
        Self::LADING_SIGNING_KEY,
        Self::LADING_LOGIN_DIR,
        Self::LADING_LOGIN_STATE,
        Self::LADING_RUN_BINARY,
        Self::LADING_REPOSITORY_URL,
        Self::LADING_DOCTOR_PYTHON,
        Self::LADING_DOCTOR_NUGET_EXE,
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
