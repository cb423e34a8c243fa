//! `lading cache-key`: a key that changes exactly when a restore would produce other files
//! (the lockfiles' bytes, lading's store format, OS and architecture), and the directories
//! a CI cache should carry (lading's store plus each ecosystem's destination).
//!
//! Printed on stdout (key on the first line, then one path per line) and, on GitHub
//! Actions, appended to `GITHUB_OUTPUT` as `key` and a multi-line `paths`
//! ([`crate::ci::export::github_output`]: heredocs with a delimiter found in neither).

use std::path::PathBuf;

use anyhow::Context as _;
use sha2::Digest as _;

use crate::cli::CacheKeyArgs;
use crate::diagnostics::HintedError;
use crate::env_vars::EnvVars;
use crate::printer::Printer;

/// The key and the paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// `<prefix>-<os>-<arch>-<hash>`.
    pub key: String,
    /// Directories to cache.
    pub paths: Vec<PathBuf>,
}

/// Compute the key.
///
/// # Errors
/// No lockfile, or one that cannot be read.
pub fn compute(args: &CacheKeyArgs) -> anyhow::Result<CacheKey> {
    let (lockfiles, _) = super::restore::discover(&args.lockfiles)?;
    if lockfiles.is_empty() {
        return Err(HintedError::new(
            format!("no lockfile found under `{}`", args.lockfiles.dir.display()),
            "run in the project directory, or pass `--lockfile PATH`",
        )
        .into());
    }
    let mut hasher = sha2::Sha256::new();
    // The platform decides which optional npm packages are restored (os, cpu, libc).
    let (os, cpu, libc) = crate::ecosystem::npm::node_platform_with_libc();
    hasher.update(format!(
        "lading-cache\n{}\n{os}-{cpu}-{libc}\n",
        crate::cas::STORE_VERSION,
    ));
    let mut paths = vec![crate::repository::cache_dir().join(crate::cas::STORE_VERSION)];
    for (kind, path) in &lockfiles {
        let bytes =
            fs_err::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
        let relative = path.strip_prefix(&args.lockfiles.dir).unwrap_or(path);
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update(b"\0");
        hasher.update(sha2::Sha256::digest(&bytes));
        let destination = super::restore::destination(*kind, &args.lockfiles);
        if !paths.contains(&destination) {
            paths.push(destination);
        }
    }
    let hash = hex::encode(hasher.finalize());
    Ok(CacheKey {
        key: format!(
            "{}-{}-{}-{}",
            args.prefix,
            std::env::consts::OS,
            std::env::consts::ARCH,
            &hash[..32]
        ),
        paths,
    })
}

/// Run `lading cache-key`.
///
/// # Errors
/// As [`compute`], and a `GITHUB_OUTPUT` that cannot be appended to.
pub fn run(args: &CacheKeyArgs, printer: Printer) -> anyhow::Result<()> {
    let key = compute(args)?;
    printer.data(&key.key);
    for path in &key.paths {
        printer.data(&path.display().to_string());
    }
    let paths: Vec<String> = key
        .paths
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    let outputs = [
        ("key".to_owned(), key.key.clone()),
        ("paths".to_owned(), paths.join("\n")),
    ];
    if crate::ci::export::github_output(&outputs)? {
        printer.status(&format!(
            "cache-key: exported `key` and `paths` to `{}`",
            EnvVars::get(EnvVars::GITHUB_OUTPUT).unwrap_or_default()
        ));
    }
    Ok(())
}
