//! `lading cache-key`: a key that changes exactly when a restore would produce other files
//! (the lockfiles' bytes, lading's store format, OS and architecture), and the directories
//! a CI cache should carry (lading's store plus each ecosystem's destination).
//!
//! Printed on stdout (key on the first line, then one path per line) and, on GitHub
//! Actions, appended to `GITHUB_OUTPUT` as `key` and a multi-line `paths` with a random
//! heredoc delimiter, so a lockfile line can never end the value early.

use std::io::Write as _;
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
    hasher.update(format!(
        "lading-cache\n{}\n{}-{}\n",
        crate::cas::STORE_VERSION,
        std::env::consts::OS,
        std::env::consts::ARCH
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

/// The `GITHUB_OUTPUT` text for a key.
#[must_use]
pub fn github_output(key: &CacheKey) -> String {
    let delimiter = format!("lading_{}", hex::encode(rand::random::<[u8; 16]>()));
    let paths: Vec<String> = key
        .paths
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    format!(
        "key={}\npaths<<{delimiter}\n{}\n{delimiter}\n",
        key.key,
        paths.join("\n")
    )
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
    if let Some(output) = EnvVars::get(EnvVars::GITHUB_OUTPUT) {
        let mut file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&output)?;
        file.write_all(github_output(&key).as_bytes())?;
        printer.status(&format!(
            "cache-key: exported `key` and `paths` to `{output}`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_output_uses_a_random_delimiter() {
        let key = CacheKey {
            key: "lading-linux-x86_64-abc".to_owned(),
            paths: vec![PathBuf::from("/a"), PathBuf::from("/b c")],
        };
        let first = github_output(&key);
        let second = github_output(&key);
        assert_ne!(first, second);
        let delimiter = first
            .lines()
            .nth(1)
            .unwrap()
            .strip_prefix("paths<<")
            .unwrap();
        assert_eq!(delimiter.len(), "lading_".len() + 32);
        assert!(first.starts_with("key=lading-linux-x86_64-abc\n"));
        assert!(first.ends_with(&format!("/a\n/b c\n{delimiter}\n")));
    }
}
