//! What configuring a client tool means, for every format: the [`Configure`] capability
//! `lading login` calls (each format implements it in `ecosystem/<format>/login.rs`), the
//! [`Login`] it is given, and the [`Plan`] of file edits and exported variables it adds to.
//! `commands/login.rs` writes the plan atomically, records it for `lading logout`, and
//! rolls it back on failure; a format only says what to change.

use std::path::{Path, PathBuf};

use crate::diagnostics::HintedError;
use crate::ecosystem::doctor::ToolReport;
use crate::ecosystem::edit::EditError;
use crate::env_vars::EnvVars;
use crate::format::Tool;
use crate::secret::SafeUrl;

/// Where `lading login` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoginTarget {
    /// Per-job files under `--dir`, wired through env vars (default when `CI` is set).
    Ephemeral,
    /// The user's own files (`~/.npmrc`, `~/.m2/settings.xml`, ...): default outside CI.
    User,
    /// Files in the working directory (`.npmrc`, `nuget.config`, `settings.xml`).
    Project,
}

/// How Maven is pointed at the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MavenMode {
    /// A profile with the repository and plugin repository, listed in `<activeProfiles>`.
    Profile,
    /// A `<mirror>` of everything (`mirrorOf` `*`).
    Mirror,
}

/// Everything a format needs to configure one of its tools.
#[derive(Debug, Clone)]
pub struct Login<'a> {
    /// Which files to write.
    pub target: LoginTarget,
    /// Directory for ephemeral files.
    pub dir: PathBuf,
    /// The format's data-plane endpoint, ending in `/`.
    pub endpoint: url::Url,
    /// The same endpoint as the repository gave it.
    pub registry: SafeUrl,
    /// User name for Basic auth.
    pub username: String,
    /// The token.
    pub secret: &'a str,
    /// `--namespace`: npm scope, NuGet package-id prefix.
    pub namespace: Option<String>,
    /// `--source-name`, else `codeartifact`.
    pub source_name: String,
    /// `--source-name` as given.
    pub explicit_source_name: Option<String>,
    /// The repository as a source name: `domain/repository` for CodeArtifact, `lading`
    /// for a plain registry.
    pub repository_label: String,
    /// Whether the repository is CodeArtifact (or `lading serve`).
    pub codeartifact: bool,
    /// The variable a plain registry's token came from, when it came from one.
    pub token_env: Option<String>,
    /// `--maven-password-env`.
    pub maven_password_env: Option<String>,
    /// `--maven-mode`.
    pub maven_mode: MavenMode,
}

/// A format that can point its client tools at a repository (`lading login`, `logout`,
/// `exec`).
pub trait Configure: Sync {
    /// Plan `tool`'s config edits (`tool` is one of the format's [`crate::format::Format::tools`]).
    ///
    /// # Errors
    /// What the tool cannot do with `login` (e.g. no project-level file), and I/O or
    /// parse errors of the files it edits.
    fn configure(&self, tool: Tool, login: &Login<'_>, plan: &mut Plan) -> anyhow::Result<()>;

    /// What its tools will actually use (`lading doctor`), asked of the tools themselves;
    /// none by default.
    fn doctor(&self) -> BoxFuture<'_, Vec<ToolReport>> {
        Box::pin(async { Vec::new() })
    }
}

/// The error for a tool handed to a format it does not belong to (a bug: the registry
/// routes a tool by [`Tool::format`]).
#[must_use]
pub fn not_mine(tool: Tool, format: crate::format::Format) -> anyhow::Error {
    anyhow::anyhow!(
        "internal error: `{tool}` is a {} tool, not {format}",
        tool.format()
    )
}

/// A boxed future, for async methods of capability traits used as `dyn`.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// One planned file change.
#[derive(Debug)]
pub struct Planned {
    /// The file.
    pub path: PathBuf,
    /// Its bytes before, `None`: it did not exist.
    pub before: Option<Vec<u8>>,
    /// Its mode before.
    pub before_mode: Option<u32>,
    /// Its bytes after.
    pub after: Vec<u8>,
    /// Where the text being edited came from (the file, or the seed it was copied from),
    /// for error messages.
    pub origin: PathBuf,
    /// Holds a secret: written 0600.
    pub private: bool,
}

/// Every file edit and exported variable a login needs, planned in memory before anything
/// is written.
#[derive(Debug, Default)]
pub struct Plan {
    /// The files, in the order first edited.
    pub files: Vec<Planned>,
    /// Variables exported to later steps.
    pub env: Vec<(String, String)>,
    /// Token variables: `export NAME="$(cat FILE)"` in the env file, never in `GITHUB_ENV`.
    pub sourced: Vec<(String, PathBuf)>,
}

impl Plan {
    /// The text the file will have so far (planned, else on disk, else `seed`).
    ///
    /// # Errors
    /// The file cannot be read or decoded, or `edit` fails.
    pub fn edit(
        &mut self,
        path: &Path,
        private: bool,
        seed: Option<&Path>,
        edit: impl FnOnce(&Path, &str) -> Result<String, EditError>,
    ) -> anyhow::Result<()> {
        let index = if let Some(index) = self.files.iter().position(|file| file.path == path) {
            index
        } else {
            {
                let before = match fs_err::read(path) {
                    Ok(bytes) => Some(bytes),
                    // A parent that is a file: the file cannot exist (the write will say why).
                    Err(error)
                        if matches!(
                            error.kind(),
                            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                        ) =>
                    {
                        None
                    }
                    Err(error) => return Err(error.into()),
                };
                let (after, origin) = match (&before, seed) {
                    (Some(bytes), _) => (bytes.clone(), path.to_path_buf()),
                    (None, Some(seed)) => (fs_err::read(seed)?, seed.to_path_buf()),
                    (None, None) => (Vec::new(), path.to_path_buf()),
                };
                self.files.push(Planned {
                    path: path.to_path_buf(),
                    before_mode: mode_of(path),
                    before,
                    after,
                    origin,
                    private,
                });
                self.files.len() - 1
            }
        };
        let file = &mut self.files[index];
        file.private |= private;
        let text = crate::ecosystem::edit::decode(&file.origin, &file.after)?.to_owned();
        let new = edit(&file.origin, &text)?;
        file.after = new.into_bytes();
        Ok(())
    }

    /// Export `name` as the path `value` to later steps.
    pub fn export(&mut self, name: &str, value: &Path) {
        self.export_value(name, &value.display().to_string());
    }

    /// Export `name` as `value` to later steps.
    pub fn export_value(&mut self, name: &str, value: &str) {
        self.env.retain(|(existing, _)| existing != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// A 0600 file holding only the token (what a `cat`-style credential helper reads).
    ///
    /// # Errors
    /// As [`Plan::edit`].
    pub fn token_file(&mut self, path: &Path, token: &str) -> anyhow::Result<()> {
        self.edit(path, true, None, |_, _| Ok(token.to_owned()))
    }
}

/// `CARGO_HOME`, else `~/.cargo`.
///
/// # Errors
/// `HOME` is not set.
pub fn cargo_home() -> anyhow::Result<PathBuf> {
    match EnvVars::get(EnvVars::CARGO_HOME) {
        Some(path) => Ok(PathBuf::from(path)),
        None => Ok(home()?.join(".cargo")),
    }
}

/// The user's home directory.
///
/// # Errors
/// `HOME` is not set (with a hint).
pub fn home() -> anyhow::Result<PathBuf> {
    EnvVars::get(EnvVars::HOME)
        .map(PathBuf::from)
        .ok_or_else(|| {
            HintedError::new(
                "`HOME` is not set",
                "set `HOME`, or use `--target ephemeral`",
            )
            .into()
        })
}

/// `path` made absolute, or as it is.
#[must_use]
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A file's permission bits, when it exists.
#[cfg(unix)]
#[must_use]
pub fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::metadata(path)
        .ok()
        .map(|metadata| metadata.permissions().mode() & 0o7777)
}

/// A file's permission bits (none off Unix).
#[cfg(not(unix))]
#[must_use]
pub fn mode_of(_path: &Path) -> Option<u32> {
    None
}
