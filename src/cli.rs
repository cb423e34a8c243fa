//! Command-line definitions (clap derive) and nothing else.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::diagnostics::EXIT_CODES_HELP;
pub use crate::ecosystem::configure::LoginTarget;
pub use crate::ecosystem::restore::{LinkMode, LockfileArgs, NpmInstallArgs, OmitType};
use crate::env_vars::EnvVars;
pub use crate::format::{Format, PackFormat, Tool};

/// A build step for artifact repositories.
///
/// lading authenticates to AWS CodeArtifact or any npm / Maven / NuGet / PyPI registry,
/// and ships `lading serve`, an embedded repository that speaks the CodeArtifact
/// control-plane API (SigV4) and the npm, Maven, NuGet v3, PyPI, cargo, RubyGems, Swift and generic protocols,
/// for local use and tests with no cloud account.
#[derive(Debug, Parser)]
#[command(name = "lading", version, after_help = EXIT_CODES_HELP, propagate_version = true)]
pub struct Cli {
    /// More output (`-v` debug, `-vv` trace); `LADING_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded repository: a local stand-in for AWS CodeArtifact.
    ///
    /// On an empty data directory it creates domain `local`, repository `main`, and an
    /// admin principal whose keys it writes to `DATA/credentials` (AWS shared-credentials
    /// format, profile `default`, mode 0600), so this works at once:
    ///
    ///   AWS_SHARED_CREDENTIALS_FILE=DATA/credentials aws codeartifact list-domains \
    ///     --endpoint-url http://127.0.0.1:8470 --region us-east-1
    ///
    /// Protocols, each at the URL GetRepositoryEndpoint returns for its format:
    ///
    ///   CodeArtifact  http://HOST/ (control-plane API, SigV4; the AWS CLI, boto3, lading)
    ///   npm           http://HOST/d/DOMAIN/npm/REPO/
    ///   Maven         http://HOST/d/DOMAIN/maven/REPO/
    ///   NuGet v3      http://HOST/d/DOMAIN/nuget/REPO/ (source: .../v3/index.json)
    ///   PyPI          http://HOST/d/DOMAIN/pypi/REPO/ (index: .../simple/; twine uploads here)
    ///   cargo         http://HOST/d/DOMAIN/cargo/REPO/ (sparse index: sparse+ that URL)
    ///   RubyGems      http://HOST/d/DOMAIN/ruby/REPO/ (gem push --host, bundler source; compact index)
    ///   Swift         http://HOST/d/DOMAIN/swift/REPO/ (registry API, SE-0292; spec-tested,
    ///                 not yet verified with the swift client)
    ///   generic       http://HOST/d/DOMAIN/generic/REPO/
    #[command(after_help = EXIT_CODES_HELP, verbatim_doc_comment)]
    Serve(ServeArgs),
    /// Build packages from build outputs, reproducibly, with checksums and signed provenance.
    ///
    /// Selects files by glob under `--base` (`dist/**/*.js`, `!**/*.map`; a directory selects
    /// everything in it), builds the package, and writes into `--out`:
    ///
    ///   <package file(s)>        the package (zip, tar.gz, npm .tgz, .nupkg, Maven jar + pom,
    ///                            or the wheels/sdists passed through)
    ///   SHA256SUMS               `sha256sum -c SHA256SUMS` checks it
    ///   <stem>.manifest.json     every output with sha256, sha512, sha1, md5 and size
    ///   <stem>.intoto.jsonl      in-toto Statement v1 + SLSA Provenance v1 in a DSSE envelope
    ///
    /// Outputs are written to a temporary directory inside `--out` and renamed into place at
    /// the end, so a failure leaves no partial file. Archives are byte-identical for the same
    /// inputs: sorted entries, modes 0644/0755, owner 0:0, and every timestamp set to
    /// `SOURCE_DATE_EPOCH`, else the commit time of HEAD, else 1980-01-01.
    ///
    /// Formats:
    ///   zip, tar.gz  the selected files; needs --name and --version
    ///   npm          the package in --base, files chosen as `npm pack` does (package.json
    ///                `files`, `.npmignore`, always README/LICENSE/package.json/main/bin);
    ///                --version replaces package.json's version in the tarball
    ///   nuget        --nuspec (or the one `*.nuspec` in --base) plus the selected files
    ///                (default: all); a nuspec id different from --name is an error
    ///   maven        --name groupId:artifactId: a jar of the selected files (default: all
    ///                under --base), --pom or a generated pom, --sources/--javadoc jars
    ///   pypi         prebuilt wheels/sdists (default `*.whl`, `*.tar.gz`), checked against
    ///                their METADATA/PKG-INFO and passed through unchanged
    ///   cargo        no patterns and a Cargo.toml in --base: runs `cargo package
    ///                --no-verify` there (cargo on PATH; reproducible bytes, as `cargo publish`
    ///                uploads them); else the one selected `.crate` (default `*.crate`)
    ///   ruby         no patterns and one `*.gemspec` in --base: runs `gem build` there with
    ///                SOURCE_DATE_EPOCH = the source date (the same bytes on a rerun); else
    ///                the one selected `.gem` (default `*.gem`)
    ///
    /// --name and --version are minijinja templates over the CI context:
    /// `{{ ci.ref_name }}`, `{{ ci.sha }}`, `{{ ci.run_number }}`, `{{ git.short_sha }}`,
    /// `{{ env.NAME }}`; an undefined variable is an error. Example (version from a tag):
    ///
    ///   lading pack --format tar.gz --name app --version "{{ ci.ref_name | replace('v', '') }}" \
    ///     'dist/**' '!**/*.map' --out out/
    ///
    /// Provenance records the CI run (GitHub Actions, CodeBuild, Jenkins, or local), the
    /// source commit and, from lockfiles (--lockfile; for npm `package-lock.json` by
    /// default), every dependency with its digest. It is signed with the PEM key in
    /// --signing-key or `LADING_SIGNING_KEY` (PKCS#8 ed25519 or ECDSA P-256), or left unsigned.
    #[command(after_help = EXIT_CODES_HELP, disable_version_flag = true, verbatim_doc_comment)]
    #[cfg_attr(
        doc,
        expect(
            rustdoc::invalid_html_tags,
            reason = "`--help` text, printed verbatim: `<stem>` is a placeholder, not HTML"
        )
    )]
    Pack(PackArgs),
    /// Check packages against SHA256SUMS, their provenance subjects, its signature, and the
    /// lockfile.
    ///
    /// Reads `SHA256SUMS` and every `*.intoto.jsonl` in DIR (what `lading pack --out DIR`
    /// wrote). Fails (exit 1) when a file's digest differs, a file is not a provenance
    /// subject, the DSSE signature does not verify with --public-key, or (with --lockfile)
    /// the recorded dependencies differ from the lockfile's.
    #[command(after_help = EXIT_CODES_HELP)]
    Verify(VerifyArgs),
    /// Get a token and point package managers at the repository (undo with `lading logout`).
    ///
    /// Flags are named as `aws codeartifact login` names them; `--tool` is repeatable.
    /// By default (`CI` set) the config goes to per-job files wired through the tools' own
    /// env vars (`NPM_CONFIG_USERCONFIG`, `PIP_CONFIG_FILE`, `NETRC`), exported to later
    /// steps (`GITHUB_ENV`, the env file, `--print-env sh`); `mvn -s "$LADING_MAVEN_SETTINGS"`,
    /// `nuget -ConfigFile "$LADING_NUGET_CONFIG"` (dotnet: `--configfile`), `twine
    /// --config-file "$LADING_PYPIRC"`; uv reads `UV_DEFAULT_INDEX` and `NETRC`, poetry
    /// `POETRY_REPOSITORIES_<NAME>_URL` and `POETRY_HTTP_BASIC_<NAME>_*`, gem `RUBYGEMS_HOST`
    /// and `GEM_HOST_API_KEY`, bundler `BUNDLE_<HOST>`; `swift build --config-path
    /// "$LADING_SWIFTPM_CONFIG_PATH" --netrc-file "$LADING_SWIFT_NETRC"`. Token variables are
    /// only in the env file, read from 0600 files.
    #[command(after_help = EXIT_CODES_HELP)]
    Login(LoginArgs),
    /// Return every file `lading login` changed to its bytes before login, and remove the
    /// token it cached.
    #[command(after_help = EXIT_CODES_HELP)]
    Logout(LogoutArgs),
    /// Print a repository token on stdout, for scripts that need one.
    #[command(after_help = EXIT_CODES_HELP)]
    Token(TokenArgs),
    /// Fetch every artifact the lockfiles pin, verify it, and put it where the native tool
    /// looks first, so `npm ci --offline`, `pnpm install --offline`, `yarn install
    /// --offline`, `pip install --no-index`, `mvn -o`, NuGet restores and `cargo build
    /// --offline` run without the network.
    ///
    /// Lockfiles: `package-lock.json` / `npm-shrinkwrap.json` (npm); `pnpm-lock.yaml` (into
    /// pnpm's store, for pnpm 12 and 10); yarn 1 `yarn.lock` (into yarn's offline mirror);
    /// yarn 4 `yarn.lock` (into yarn's global cache, each zip checked against the lockfile's
    /// `checksum`, so `yarn install --immutable` needs no network);
    /// `requirements*.txt` with `--hash` pins, `uv.lock`, `pylock.toml` and `poetry.lock` (pip, into
    /// `--wheelhouse`; packages from the configured index, not the lock's URLs);
    /// `gradle.lockfile`, maven-lockfile's `lockfile.json`, a `*.txt` list of
    /// `group:artifact:version[:classifier][@ext]` given with `--lockfile` (Maven);
    /// `packages.lock.json` (NuGet); `Gemfile.lock` (gems verified against its `CHECKSUMS`, else
    /// the server's compact index, into `vendor/cache` for `bundle install --local`);
    /// `Cargo.lock` named with `--lockfile` (crates.io
    /// packages, into a vendor directory that `cargo build --offline` reads through source
    /// replacement). Downloads land first in a content-addressed store in lading's cache
    /// directory, so a second restore makes no request.
    #[command(after_help = EXIT_CODES_HELP)]
    Restore(Box<RestoreArgs>),
    /// Publish what `lading pack` wrote (DIR), or FILES with --format: idempotently, with
    /// retries, and read back.
    ///
    /// Before uploading, lading reads what the repository has for the version (npm
    /// `dist.integrity`, Maven `.sha1` sidecars, the NuGet `.nupkg`, the PyPI simple page's
    /// `#sha256=`, CodeArtifact ListPackageVersionAssets): the same digest is reported as
    /// already published (exit 0, nothing sent); a different digest fails (exit 1) naming
    /// both. After uploading, every file is read back and its digest compared. A re-run after
    /// a failure half-way finishes the version. 429/5xx/connection errors are retried with
    /// jitter (honouring Retry-After); exit 3 when retries run out.
    ///
    /// Protocols: npm (PUT packument with the tarball attached), maven (files, checksums,
    /// then merged maven-metadata.xml; SNAPSHOT timestamps), nuget (v3 PackagePublish, or a
    /// v2 feed's `api/v2/package/`), pypi (twine's multipart upload), cargo (Web API `PUT
    /// api/v1/crates/new` with cargo's metadata; checked and read back through the sparse
    /// index's `cksum`), ruby (`gem push`'s `POST api/v1/gems`; checked and read back
    /// through the compact index's `checksum:`), generic (CodeArtifact
    /// PublishPackageVersion, or HTTP PUT under `--registry-url`). The provenance
    /// (`*.intoto.jsonl`) goes along: a generic asset, a Maven `-provenance` attachment, or
    /// (npm, nuget, pypi, cargo, ruby on CodeArtifact /
    /// `lading serve`) the generic package
    /// `<name>.provenance` in the same repository.
    #[command(after_help = EXIT_CODES_HELP, disable_version_flag = true, verbatim_doc_comment)]
    Publish(Box<PublishArgs>),
    /// Print a cache key for the restored caches (hash of the lockfiles, lading's cache
    /// format, OS and architecture) and the paths to cache; exported to `GITHUB_OUTPUT` as
    /// `key` and `paths` when set.
    #[command(after_help = EXIT_CODES_HELP)]
    CacheKey(CacheKeyArgs),
    /// Run the pipeline from `lading.yml`: login, restore, build, pack, publish, logout.
    ///
    /// Each step runs as a child `lading` process in the config's directory; the first
    /// failing step stops the run (logout still runs) and `lading run` exits with that
    /// step's exit code. The build command comes after `--` (one word runs through `sh -c`:
    /// `lading run -- 'npm ci && npm run build'`), else from `pipeline.build`.
    ///
    /// With no repository in the flags or in `lading.yml`, the embedded repository starts in
    /// this process on a loopback port over `.lading/repo/` next to the config, and every
    /// step is pointed at it (domain `local`, repository `main`).
    ///
    /// lading.yml:
    ///
    ///   pipeline:
    ///     tools: [npm]            # lading login --tool ...; empty: no login/logout
    ///     restore: [web]          # lading restore --dir ... for each
    ///     build: npm ci --prefix web
    ///     out: .lading/out        # one subdirectory per package
    ///     publish: true
    ///   packages:                 # one lading pack each, then lading publish
    ///     - format: tar.gz
    ///       name: app
    ///       version: "{{ ci.ref_name }}"
    ///       base: web/dist
    ///       files: [dist/app.js, "dist/**/*.css"]
    #[command(after_help = EXIT_CODES_HELP, verbatim_doc_comment)]
    #[cfg_attr(
        doc,
        expect(
            rustdoc::broken_intra_doc_links,
            reason = "`--help` text, printed verbatim: `[npm]` is YAML, not a link"
        )
    )]
    Run(RunArgs),
    /// Run a command with package managers pointed at the repository; exits with its code.
    ///
    /// For a plain registry: `lading login` into a private directory, the command, `lading
    /// logout`. For CodeArtifact the tools are pointed at a loopback proxy that adds a token
    /// it mints and renews itself, so a build that outlives a token keeps working and no
    /// token is written to disk:
    ///
    ///   lading exec --domain my-domain --repository my-repo --tool npm -- npm ci
    #[command(after_help = EXIT_CODES_HELP, verbatim_doc_comment)]
    Exec(ExecArgs),
    /// Show, per package manager, the registry and auth it will actually use and which config
    /// file decides it, as the tools themselves report it (`npm config`, `pip config`,
    /// `mvn help:effective-settings`, `nuget sources list`, `dotnet nuget list source`,
    /// `poetry config --list`, `bundle config`; uv and gem from their variables and files);
    /// secrets are never shown.
    ///
    /// Honours the variables `lading login` exports (`NPM_CONFIG_USERCONFIG`,
    /// `PIP_CONFIG_FILE`, `LADING_MAVEN_SETTINGS`, `LADING_NUGET_CONFIG`).
    #[command(after_help = EXIT_CODES_HELP)]
    Doctor(DoctorArgs),
}

/// `lading doctor` options.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `lading exec` options.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The repository.
    #[command(flatten)]
    pub repository: crate::repository::RepositoryArgs,
    /// Package manager to configure; repeatable.
    #[arg(long = "tool", value_enum, required = true)]
    pub tools: Vec<Tool>,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `lading run` options.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The repository (default: from `lading.yml`, else the embedded repository).
    #[command(flatten)]
    pub repository: crate::repository::RepositoryArgs,
    /// Pack but do not publish.
    #[arg(long)]
    pub no_publish: bool,
    /// Build command run between restore and pack.
    #[arg(last = true, value_name = "BUILD")]
    pub build: Vec<String>,
}

/// `lading pack` options.
#[derive(Debug, Args)]
pub struct PackArgs {
    /// Files to pack: globs relative to --base; `!glob` excludes.
    pub patterns: Vec<String>,
    /// Package format: `zip` or `tar.gz` (generic assets), or a format whose own package
    /// lading builds: `npm`, `nuget`, `maven`, `pypi`, `cargo`, `ruby` (another CodeArtifact
    /// format is refused with the formats that can).
    #[arg(long, value_name = "FORMAT")]
    pub format: PackFormat,
    /// Package name (template); for maven `groupId:artifactId`.
    #[arg(long)]
    pub name: Option<String>,
    /// Package version (template).
    #[arg(long = "version", id = "package_version", value_name = "VERSION")]
    pub version: Option<String>,
    /// Directory the patterns are relative to (for npm: the package directory).
    #[arg(long, default_value = ".")]
    pub base: PathBuf,
    /// Output directory (created if missing).
    #[arg(long, default_value = ".lading/out")]
    pub out: PathBuf,
    /// Succeed with an empty selection instead of failing.
    #[arg(long)]
    pub allow_empty: bool,
    /// Print the manifest as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// PEM private key signing the provenance (else `LADING_SIGNING_KEY`, else unsigned).
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// Lockfile whose dependencies go into the provenance (`package-lock.json`). Repeatable.
    #[arg(long, value_name = "FILE")]
    pub lockfile: Vec<PathBuf>,
    /// nuget: the nuspec (default: the one `*.nuspec` in --base, else generated).
    #[arg(long, value_name = "FILE")]
    pub nuspec: Option<PathBuf>,
    /// maven: the pom (default: generated from --name and --version).
    #[arg(long, value_name = "FILE")]
    pub pom: Option<PathBuf>,
    /// maven: directory packed as the `-sources` jar.
    #[arg(long, value_name = "DIR")]
    pub sources: Option<PathBuf>,
    /// maven: directory packed as the `-javadoc` jar.
    #[arg(long, value_name = "DIR")]
    pub javadoc: Option<PathBuf>,
}

/// `lading publish` options.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The directory `lading pack --out` wrote; or, with --format, the files to publish.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Publish FILES in this format (one-off, as `aws codeartifact publish-package-version`):
    /// `npm`, `maven`, `nuget`, `pypi`, `cargo`, `ruby` or `generic` (another CodeArtifact
    /// format is refused with the formats that can).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// generic: the namespace (default: `--namespace`, else the package name).
    #[arg(long)]
    pub namespace: Option<String>,
    /// generic: the package name (default: the manifest's).
    #[arg(long)]
    pub name: Option<String>,
    /// generic: the version (default: the manifest's).
    #[arg(long = "version", id = "package_version", value_name = "VERSION")]
    pub version: Option<String>,
    /// npm: the dist-tag to point at the version.
    #[arg(long, default_value = "latest")]
    pub tag: String,
    /// npm: `public` or `restricted` (scoped packages).
    #[arg(long)]
    pub access: Option<String>,
    /// User name for Basic auth (pypi, maven, nuget on plain registries); default `aws` for
    /// CodeArtifact, `token` otherwise. npm always sends the token as a Bearer token, cargo
    /// and `gem push` as the whole `Authorization` value (`Bearer <token>` on CodeArtifact).
    #[arg(long)]
    pub username: Option<String>,
    /// List what would be sent and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Uploads in flight at once (files of different packages).
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// Attempts per request (transient failures only).
    #[arg(long, default_value_t = 4)]
    pub retries: u32,
    /// Don't publish the provenance.
    #[arg(long)]
    pub no_provenance: bool,
    /// The repository.
    #[command(flatten)]
    pub repository: crate::repository::RepositoryArgs,
}

/// `lading verify` options.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Directory `lading pack --out` wrote.
    pub dir: PathBuf,
    /// PEM public key (or private key) the provenance must be signed with.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Lockfile the recorded dependencies must match.
    #[arg(long, value_name = "FILE")]
    pub lockfile: Option<PathBuf>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// How Maven reaches the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MavenModeArg {
    /// An active profile with the repository and plugin repository.
    Profile,
    /// A mirror of everything.
    Mirror,
}

/// Shell syntax for `--print-env`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// POSIX sh (`export NAME='value'`).
    Sh,
}

/// `lading login` options.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Repository selection.
    #[command(flatten)]
    pub repository: crate::repository::RepositoryArgs,
    /// Package manager to configure; repeatable.
    #[arg(long = "tool", value_enum, required = true)]
    pub tools: Vec<Tool>,
    /// npm scope (`@acme`) / NuGet package-id prefix routed to this repository.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Which files to write (default: `ephemeral` when `CI` is set, else `user`).
    #[arg(long, value_enum)]
    pub target: Option<LoginTarget>,
    /// Directory for ephemeral files.
    #[arg(long, env = EnvVars::LADING_LOGIN_DIR)]
    pub dir: Option<PathBuf>,
    /// State file recording what login changed (what `logout` undoes).
    #[arg(long, env = EnvVars::LADING_LOGIN_STATE)]
    pub state_file: Option<PathBuf>,
    /// Print a unified diff of every file and write nothing (no config, state or cached
    /// token); every secret-looking value in it is masked, the file's own included.
    #[arg(long)]
    pub dry_run: bool,
    /// Also print the exported variables on stdout in this shell's syntax.
    #[arg(long, value_enum)]
    pub print_env: Option<Shell>,
    /// Maven: a profile (default) or a mirror of everything.
    #[arg(long, value_enum, default_value = "profile")]
    pub maven_mode: MavenModeArg,
    /// Maven: write `<password>${env.VAR}</password>` instead of the token, so
    /// `settings.xml` holds no secret and mvn reads it from `VAR` when it runs.
    #[arg(long, value_name = "VAR")]
    pub maven_password_env: Option<String>,
    /// Name of the Maven server/profile, `.pypirc` section and NuGet source (default:
    /// `codeartifact`; NuGet: `DOMAIN/REPOSITORY` as `aws codeartifact login` names it).
    #[arg(long)]
    pub source_name: Option<String>,
    /// User name for Basic auth (default: `aws` for CodeArtifact, `token` otherwise).
    #[arg(long)]
    pub username: Option<String>,
}

/// `lading logout` options.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// State file written by `lading login`.
    #[arg(long, env = EnvVars::LADING_LOGIN_STATE)]
    pub state_file: Option<PathBuf>,
    /// Restore files even if they changed after login.
    #[arg(long)]
    pub force: bool,
    /// Show what would be restored and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `lading token` options.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Repository selection.
    #[command(flatten)]
    pub repository: crate::repository::RepositoryArgs,
}

/// `lading restore` options.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Lockfiles and cache locations.
    #[command(flatten)]
    pub lockfiles: LockfileArgs,
    /// The repository to restore from.
    #[command(flatten)]
    pub repository: crate::repository::RepositoryArgs,
    /// The interpreter pip files are chosen for.
    #[command(flatten)]
    pub python: crate::ecosystem::restore::PythonTargetArgs,
    /// Downloads in flight at most. lading starts with 4 and adds one per quick answer,
    /// halving when an answer comes far slower than the fastest (a dropped connection, a
    /// throttled request). Against a remote registry more in flight hide more latency;
    /// against a server that takes one request at a time, `--jobs 4` avoids the drops.
    #[arg(long, short = 'j', default_value_t = 50)]
    pub jobs: usize,
    /// Retry a download when no data arrives for this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub stall_timeout: u64,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub json: bool,
    /// Install instead of only filling the caches: pip lockfiles into the virtual
    /// environment `--venv`; npm lockfiles into the `node_modules` beside them, the tree
    /// `npm ci` writes (lockfile v2, v3): every tarball verified against `integrity`,
    /// unpacked once into lading's cache and placed by `--link`; `.bin` links, workspace
    /// links, `node_modules/.package-lock.json`; optional packages for another platform or
    /// whose `engines` exclude the `node` and `npm` on PATH left out, as npm leaves them out;
    /// install scripts through `npm rebuild` unless `--ignore-scripts`. An npm entry lading
    /// cannot install as npm would (git, `file:`) is an error naming it.
    #[arg(long)]
    pub install: bool,
    /// pip with `--install`: the virtual environment to install into (default:
    /// `VIRTUAL_ENV`, else `.venv`); created with `--python` (else `python3`) `-m venv
    /// --without-pip` when missing, and its interpreter is the target. Wheels are unpacked as
    /// pip unpacks them (RECORD, INSTALLER `lading`, REQUESTED, entry-point launchers), each
    /// file checked against the wheel's RECORD; a project already there at the pinned version
    /// is kept, another version is replaced; source distributions are refused.
    #[arg(long, value_name = "DIR", requires = "install")]
    pub venv: Option<PathBuf>,
    /// pip with `--install`: byte-compile the installed modules (as pip does by default), one
    /// interpreter per core. Off by default, as uv has it: Python compiles what a job imports
    /// when it imports it, and compiling every module of numpy and pandas costs seconds.
    #[arg(long, requires = "install")]
    pub compile: bool,
    /// Maven: the repository id recorded in `_remote.repositories` (the `<id>` of the
    /// repository in your settings or POM); empty records the files as locally installed,
    /// which Maven accepts whatever repositories a build declares.
    #[arg(long, default_value = "")]
    pub maven_repository_id: String,
    /// npm with `--install`: how files are placed, what is left out, whether scripts run.
    #[command(flatten)]
    pub npm_install: NpmInstallArgs,
}

/// `lading cache-key` options.
#[derive(Debug, Args)]
pub struct CacheKeyArgs {
    /// Lockfiles and cache locations.
    #[command(flatten)]
    pub lockfiles: LockfileArgs,
    /// Prefix of the key.
    #[arg(long, default_value = "lading")]
    pub prefix: String,
}

/// `lading serve` options.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    /// Maintenance of a data directory instead of serving it.
    #[command(subcommand)]
    pub action: Option<ServeAction>,
    /// Data directory (created if missing); holds the index, blobs and admin credentials.
    #[arg(long, env = EnvVars::LADING_SERVE_DATA, default_value = ".lading/repo")]
    pub data: PathBuf,
    /// Address to listen on; port 0 picks a free port (printed on the first log line).
    #[arg(long, env = EnvVars::LADING_SERVE_LISTEN, default_value = "127.0.0.1:8470")]
    pub listen: SocketAddr,
    /// YAML file declaring principals (access keys and per-repository permissions),
    /// domains and repositories.
    #[arg(long, env = EnvVars::LADING_SERVE_CONFIG)]
    pub config: Option<PathBuf>,
    /// Base URL clients use to reach this server, when it differs from the `Host` header
    /// they send (reverse proxy, port mapping). Repository endpoints are built from it.
    #[arg(long, env = EnvVars::LADING_SERVE_PUBLIC_URL)]
    pub public_url: Option<url::Url>,
    /// Region reported in ARNs when a request does not name one.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Keep blobs in an S3-compatible object store, `s3://BUCKET/PREFIX`, instead of the
    /// data directory (which then caches them, verified against their SHA-256). Endpoint,
    /// region and credentials come from the AWS chain as the AWS SDKs read them
    /// (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` for a MinIO, Ceph or other
    /// S3-compatible server, which are then addressed path-style). The bucket must exist.
    #[arg(long, env = EnvVars::LADING_SERVE_BLOBS, value_name = "s3://BUCKET/PREFIX")]
    pub blobs: Option<String>,
    /// Keep the index (domains, repositories, versions, assets, tokens, origin controls,
    /// package groups) in a PostgreSQL database, `postgres://USER:PASSWORD@HOST:PORT/DB`,
    /// instead of the data directory's SQLite file: several `lading serve` nodes pointed at
    /// one database (and one `--blobs` bucket) behave as one repository. The schema is
    /// created and migrated at start (under an advisory lock, so nodes may start together).
    /// No TLS yet: reach the database over a private network or loopback. While it does not
    /// answer, requests get 503 with `Retry-After` and service resumes when it is back.
    #[arg(long, env = EnvVars::LADING_SERVE_INDEX, value_name = "postgres://…")]
    pub index: Option<String>,
    /// Pull through an upstream: `FORMAT=URL` (`npm=https://registry.npmjs.org/`) or
    /// `FORMAT=codeartifact://DOMAIN/REPOSITORY[?region=R&domain-owner=O&endpoint-url=U]`
    /// (tokens minted through the AWS credential chain). Becomes the external connection
    /// `upstream:FORMAT` of every repository that has none. Repeatable.
    #[arg(long, value_name = "FORMAT=URL")]
    pub upstream: Vec<String>,
    /// Close connections that send no complete request headers within this many seconds,
    /// counted from when the server starts waiting for a request: this bounds idle
    /// keep-alive connections as well as clients that trickle their headers (slowloris).
    #[arg(long, default_value_t = 30)]
    pub header_timeout_seconds: u64,
    /// Largest upload on a publish route, in MiB: npm `PUT`, twine upload, NuGet push,
    /// Maven and generic `PUT`, `cargo publish`, `gem push`, `PublishPackageVersion`. Uploads stream to
    /// `DATA/tmp/`, so memory does not grow with this; a larger `Content-Length` is refused
    /// (413) before a byte of the body is read.
    #[arg(long, default_value_t = 1024)]
    pub max_body_mib: u64,
    /// How long metadata pulled from an external connection (npm packuments, PyPI project
    /// pages, cargo index files, RubyGems compact index files, ...) is served from lading's cache before the upstream is
    /// asked again; then it is revalidated with `ETag` / `Last-Modified`. When the upstream
    /// is unreachable the cached copy is served whatever its age, with an
    /// `x-lading-upstream` header saying so. A number with `s`, `m`, `h` or `d`; `0` asks on every request.
    #[arg(long, default_value = "5m", value_parser = crate::server::upstream::parse_duration)]
    pub metadata_ttl: std::time::Duration,
    /// Largest body on every other route (control-plane JSON, dist-tags, Maven metadata),
    /// and largest metadata part of a publish (the npm document without its tarballs,
    /// twine's form fields, `cargo publish`'s JSON), in MiB. These are held in memory.
    #[arg(long, default_value_t = 16)]
    pub max_metadata_mib: u64,
    /// Abort a request body (408) when no byte of it arrives for this many seconds; after
    /// that long, a body must also average `--min-body-bytes-per-second`.
    #[arg(long, default_value_t = 60)]
    pub body_timeout_seconds: u64,
    /// Slowest accepted average upload rate, checked once a body has taken longer than
    /// `--body-timeout-seconds`; slower bodies are aborted (408).
    #[arg(long, default_value_t = 1024)]
    pub min_body_bytes_per_second: u64,
    /// Most connections open at once; more are answered 503 and closed. Lowered
    /// automatically to stay 64 below the open-file limit (`ulimit -n`): raise that limit
    /// to use a larger cap.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Most connections open at once from one client address; more are answered 503 and
    /// closed. Behind a reverse proxy every client shares the proxy's address: raise this
    /// to `--max-connections` there.
    #[arg(long, default_value_t = 256)]
    pub max_connections_per_address: usize,
}

/// `lading serve verify|...`.
#[derive(Debug, Subcommand)]
pub enum ServeAction {
    /// Check a data directory (and its object store): every index row's blob exists and
    /// hashes to its name with the right size; list blobs nothing names.
    ///
    /// Reads every blob once (from the object store with `--blobs`), so it takes as long as
    /// reading the repository. Safe beside a running server: it only reads. Orphans (blobs
    /// no index row names, left by an interrupted or refused upload) are reported, not
    /// counted as problems: the server's collectors remove them once they are an hour old.
    ///
    /// Exit status 0 when no blob is missing, corrupt or of the wrong size, 1 otherwise.
    Verify(ServeVerifyArgs),
    /// Copy a data directory's blobs into an object store (`--blobs`) and its index into
    /// PostgreSQL (`--index`), so `lading serve --blobs … --index …` can take over.
    ///
    /// Each blob is hashed before it is uploaded (a damaged one is reported, not copied) and
    /// written with `If-None-Match: *` and its SHA-256 for the store to check; blobs the
    /// store already has are skipped, so an interrupted migration is resumed by running it
    /// again. Stop the server first, or run it twice: blobs published meanwhile are copied
    /// by the second run.
    ///
    /// With `--index`, the SQLite index is copied row by row (rows already there are
    /// skipped) and every table compared afterwards.
    ///
    /// Exit status 0 when every blob is in the object store and every table identical, 1
    /// otherwise.
    Migrate(ServeMigrateArgs),
}

/// `lading serve migrate` options.
#[derive(Debug, Args)]
pub struct ServeMigrateArgs {
    /// Data directory whose blobs (and SQLite index) to copy.
    #[arg(long, env = EnvVars::LADING_SERVE_DATA, default_value = ".lading/repo")]
    pub data: PathBuf,
    /// The object store to copy the blobs into (`s3://BUCKET/PREFIX`).
    #[arg(
        long,
        env = EnvVars::LADING_SERVE_BLOBS,
        value_name = "s3://BUCKET/PREFIX",
        required_unless_present = "index"
    )]
    pub blobs: Option<String>,
    /// The PostgreSQL database to copy the index into (`postgres://…`): its schema is
    /// created if needed, every row of the data directory's SQLite index is copied (rows
    /// already there are skipped, so an interrupted copy is resumed by running it again),
    /// then every table is compared row by row.
    #[arg(long, env = EnvVars::LADING_SERVE_INDEX, value_name = "postgres://…")]
    pub index: Option<String>,
}

/// `lading serve verify` options.
#[derive(Debug, Args)]
pub struct ServeVerifyArgs {
    /// Data directory to check.
    #[arg(long, env = EnvVars::LADING_SERVE_DATA, default_value = ".lading/repo")]
    pub data: PathBuf,
    /// The object store holding the blobs (`s3://BUCKET/PREFIX`), as given to `lading serve`.
    #[arg(long, env = EnvVars::LADING_SERVE_BLOBS, value_name = "s3://BUCKET/PREFIX")]
    pub blobs: Option<String>,
    /// The PostgreSQL index (`postgres://…`), as given to `lading serve`.
    #[arg(long, env = EnvVars::LADING_SERVE_INDEX, value_name = "postgres://…")]
    pub index: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}
