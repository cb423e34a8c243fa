//! Restore `packages.lock.json` files into NuGet's global packages folder
//! (`<root>/<lowerid>/<lowerversion>/`, PROTOCOLS.md §4.4): the `.nupkg`, its `.sha512`,
//! the lowercased `.nuspec`, the extracted payload, and `.nupkg.metadata` last.
//!
//! Each package is built in a temp folder beside its final place and renamed in, under a
//! lock, so NuGet (or a concurrent restore) sees a version folder complete or not at all.
//! Zip entries that would escape the folder are refused. `contentHash` is checked as NuGet
//! computes it: the SHA-512 of the `.nupkg`, leaving out a package signature
//! ([`super::content_hash`]); `.nupkg.sha512` holds the hash of all the bytes.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::NuGetVersion;
use crate::cas::{Algorithm, Digest};
use crate::fetcher::{Fetcher, RestoreError, Summary};
use crate::secret::SafeUrl;

/// A package a lockfile pins.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LockedPackage {
    /// Lowercased id.
    pub lower_id: String,
    /// Normalized, lowercased version.
    pub lower_version: String,
    /// base64 SHA-512 content hash.
    pub content_hash: String,
}

/// Read `packages.lock.json`: every non-project entry of every target framework.
///
/// # Errors
/// Bad JSON (with line and column), missing `resolved`/`contentHash`, bad versions.
pub fn read(path: &Path) -> anyhow::Result<Vec<LockedPackage>> {
    let text = fs_err::read_to_string(path)?;
    parse(path, &text)
}

/// Parse the text of a `packages.lock.json` read from `path` (named in errors).
///
/// # Errors
/// Bad JSON (with line and column), missing `resolved`/`contentHash`, bad versions.
pub fn parse(path: &Path, text: &str) -> anyhow::Result<Vec<LockedPackage>> {
    let document: Value = serde_json::from_str(text).map_err(|error| {
        anyhow::anyhow!(
            "`{}:{}:{}` is not valid JSON: {error}",
            path.display(),
            error.line(),
            error.column()
        )
    })?;
    let Some(frameworks) = document.get("dependencies").and_then(Value::as_object) else {
        anyhow::bail!(
            "`{}` has no `dependencies` object: not a packages.lock.json",
            path.display()
        );
    };
    let mut found = BTreeSet::new();
    for (framework, packages) in frameworks {
        for (id, entry) in packages.as_object().into_iter().flatten() {
            if entry.get("type").and_then(Value::as_str) == Some("Project") {
                continue;
            }
            let (Some(resolved), Some(content_hash)) = (
                entry.get("resolved").and_then(Value::as_str),
                entry.get("contentHash").and_then(Value::as_str),
            ) else {
                anyhow::bail!(
                    "`{}`: `{framework}` → `{id}` lacks `resolved` or `contentHash`",
                    path.display()
                );
            };
            super::validate_id(id)?;
            let version = NuGetVersion::parse(resolved)?;
            found.insert(LockedPackage {
                lower_id: id.to_lowercase(),
                lower_version: version.key(),
                content_hash: content_hash.to_owned(),
            });
        }
    }
    Ok(found.into_iter().collect())
}

/// The service index URL for an endpoint: itself when it ends in `index.json`, else
/// `<endpoint>v3/index.json` (CodeArtifact's nuget endpoint).
#[must_use]
pub fn service_index_url(endpoint: &url::Url) -> String {
    let text = endpoint.as_str();
    if text.ends_with("index.json") {
        return text.to_owned();
    }
    let separator = if text.ends_with('/') { "" } else { "/" };
    format!("{text}{separator}v3/index.json")
}

/// Entries NuGet does not extract (`PackageHelper.ExcludePaths`) plus the signature.
fn excluded(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("_rels/")
        || lower.starts_with("package/")
        || lower == "[content_types].xml"
        || lower == ".signature.p7s"
        || lower.ends_with(".nupkg.sha512")
        || (!lower.contains('/') && lower.ends_with(".nuspec"))
}

/// Default for [`EnvVars::LADING_RESTORE_MAX_UNPACKED_BYTES`].
///
/// [`EnvVars::LADING_RESTORE_MAX_UNPACKED_BYTES`]: crate::env_vars::EnvVars::LADING_RESTORE_MAX_UNPACKED_BYTES
const DEFAULT_MAX_UNPACKED_BYTES: u64 = 4 << 30;

/// The most an archive may unpack to per byte of archive, once past [`RATIO_FREE_BYTES`]
/// (real packages stay far below; deflate's ceiling is about 1032).
const MAX_UNPACK_RATIO: u64 = 100;

/// Unpacked bytes every archive may have whatever its ratio (a small package of text can
/// compress very well and harms nothing).
const RATIO_FREE_BYTES: u64 = 16 << 20;

/// The total an archive of `archive_bytes` may unpack to, and why that figure.
fn unpack_limit(archive_bytes: u64) -> (u64, String) {
    let configured =
        crate::env_vars::EnvVars::get(crate::env_vars::EnvVars::LADING_RESTORE_MAX_UNPACKED_BYTES)
            .and_then(|text| text.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_MAX_UNPACKED_BYTES);
    let by_ratio = archive_bytes
        .saturating_mul(MAX_UNPACK_RATIO)
        .max(RATIO_FREE_BYTES);
    if by_ratio < configured {
        (
            by_ratio,
            format!(
                "it unpacks to more than {by_ratio} bytes, over {MAX_UNPACK_RATIO} times its {archive_bytes} bytes (a zip bomb?)"
            ),
        )
    } else {
        (
            configured,
            format!("it unpacks to more than {configured} bytes, the limit"),
        )
    }
}

/// Build the version folder in `temp`. Uncompressed sizes are counted as the bytes come
/// out (an entry's declared size can lie), against [`unpack_limit`].
fn extract(
    nupkg: &Path,
    package: &LockedPackage,
    source: &str,
    temp: &Path,
) -> Result<(), RestoreError> {
    let bytes = fs_err::read(nupkg).map_err(RestoreError::io(nupkg))?;
    let manifest = super::read_nupkg(&bytes)
        .map_err(|error| RestoreError::Invalid(format!("`{}`: {error}", package.lower_id)))?;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).map_err(|error| {
        RestoreError::Invalid(format!("`{}` is not a zip: {error}", package.lower_id))
    })?;
    let (limit, reason) = unpack_limit(bytes.len() as u64);
    let mut unpacked: u64 = 0;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|error| RestoreError::Invalid(format!("`{}`: {error}", package.lower_id)))?;
        if entry.is_dir() {
            continue;
        }
        let name = percent_encoding::percent_decode_str(entry.name())
            .decode_utf8_lossy()
            .into_owned();
        if excluded(&name) {
            continue;
        }
        // Zip-slip: only plain relative paths below the folder.
        let relative = Path::new(&name);
        if name.contains('\\')
            || relative.is_absolute()
            || relative
                .components()
                .any(|part| !matches!(part, std::path::Component::Normal(_)))
        {
            return Err(RestoreError::Invalid(format!(
                "`{}` has an entry `{name}` that would be written outside its folder",
                package.lower_id
            )));
        }
        let target = temp.join(relative);
        if let Some(parent) = target.parent() {
            fs_err::create_dir_all(parent).map_err(RestoreError::io(parent))?;
        }
        let mut file = fs_err::File::create(&target).map_err(RestoreError::io(&target))?;
        let allowed = limit - unpacked;
        let written = std::io::copy(&mut (&mut entry).take(allowed + 1), &mut file)
            .map_err(RestoreError::io(&target))?;
        if written > allowed {
            return Err(RestoreError::TooLarge {
                package: format!("{} {}", package.lower_id, package.lower_version),
                reason: reason.clone(),
            });
        }
        unpacked += written;
    }
    let file_name = super::nupkg_file_name(&package.lower_id, &package.lower_version);
    crate::cas::link_or_copy(nupkg, &temp.join(&file_name)).map_err(RestoreError::io(temp))?;
    let sha512 = Digest::of(Algorithm::Sha512, &bytes).base64();
    let write = |name: &str, data: &[u8]| {
        let path = temp.join(name);
        fs_err::write(&path, data).map_err(RestoreError::io(&path))
    };
    write(&format!("{file_name}.sha512"), sha512.as_bytes())?;
    write(
        &format!("{}.nuspec", package.lower_id),
        &manifest.nuspec_bytes,
    )?;
    let metadata = serde_json::json!({
        "version": 2,
        "contentHash": package.content_hash,
        "source": source,
    });
    let text = serde_json::to_string_pretty(&metadata)
        .map_err(|error| RestoreError::Invalid(error.to_string()))?;
    write(".nupkg.metadata", text.as_bytes())
}

fn install(
    root: &Path,
    lock_dir: &Path,
    nupkg: &Path,
    package: &LockedPackage,
    source: &str,
) -> Result<(), RestoreError> {
    let id_dir = root.join(&package.lower_id);
    let target = id_dir.join(&package.lower_version);
    let lock_path = lock_dir.join(format!(
        "nuget-{}-{}.lock",
        package.lower_id, package.lower_version
    ));
    let _lock = crate::fsx::FileLock::acquire(&lock_path).map_err(RestoreError::io(&lock_path))?;
    if target.join(".nupkg.metadata").exists() {
        return Ok(());
    }
    fs_err::create_dir_all(&id_dir).map_err(RestoreError::io(&id_dir))?;
    let temp = tempfile::Builder::new()
        .prefix(".lading-tmp-")
        .tempdir_in(&id_dir)
        .map_err(RestoreError::io(&id_dir))?;
    extract(nupkg, package, source, temp.path())?;
    if target.exists() {
        // An incomplete folder (no `.nupkg.metadata`): replace it.
        fs_err::remove_dir_all(&target).map_err(RestoreError::io(&target))?;
    }
    let kept = temp.keep();
    fs_err::rename(&kept, &target).map_err(RestoreError::io(&target))?;
    Ok(())
}

/// Restore `lockfiles` into the global packages folder `root`.
///
/// # Errors
/// Unreadable lockfiles, a service index without `PackageBaseAddress/3.0.0`, failed or
/// mismatched downloads, unsafe packages.
pub async fn restore(
    fetcher: &Fetcher,
    endpoint: &SafeUrl,
    root: &Path,
    lock_dir: &Path,
    lockfiles: &[PathBuf],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut packages = BTreeSet::new();
    for path in lockfiles {
        packages.extend(read(path)?);
    }
    summary.packages = packages.len();
    let index_url = SafeUrl::parse(&service_index_url(endpoint.expose()))?;
    let pending: Vec<LockedPackage> = packages
        .into_iter()
        .filter(|package| {
            !root
                .join(&package.lower_id)
                .join(&package.lower_version)
                .join(".nupkg.metadata")
                .exists()
        })
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    let index = fetcher
        .document("service index", &index_url, None, false)
        .await?;
    let index = super::service_index::ServiceIndex::parse(&index.body)
        .map_err(|error| anyhow::anyhow!("the service index {index_url} is unreadable: {error}"))?;
    let base = index
        .base_url(&["PackageBaseAddress/3.0.0"])
        .ok_or_else(|| {
            anyhow::anyhow!("the service index {index_url} lists no `PackageBaseAddress/3.0.0`")
        })?;
    let mut tasks = tokio::task::JoinSet::new();
    for package in pending {
        let fetcher = fetcher.clone();
        let base = base.clone();
        tasks.spawn(async move {
            let spec = format!("{}@{}", package.lower_id, package.lower_version);
            let file_name = super::nupkg_file_name(&package.lower_id, &package.lower_version);
            let url = base
                .join(&format!(
                    "{}/{}/{file_name}",
                    package.lower_id, package.lower_version
                ))
                .map_err(|error| RestoreError::Invalid(error.to_string()))?;
            let expected = Digest::from_base64(Algorithm::Sha512, &package.content_hash)
                .ok_or_else(|| {
                    RestoreError::Invalid(format!(
                        "`{spec}`: `contentHash` is not a base64 SHA-512"
                    ))
                })?;
            let fetched = fetcher
                .verified_with(
                    &spec,
                    &SafeUrl::from(url),
                    &expected,
                    "nuget-content-sha512",
                    |bytes| {
                        super::content_hash::content_hash(bytes).map_err(|error| error.to_string())
                    },
                )
                .await?;
            Ok::<_, RestoreError>((package, fetched.blob))
        });
    }
    let fetched = crate::fetcher::join_all(tasks).await?;
    let root = root.to_path_buf();
    let lock_dir = lock_dir.to_path_buf();
    let source = index_url.redacted();
    tokio::task::spawn_blocking(move || {
        for (package, blob) in &fetched {
            install(&root, &lock_dir, &blob.path, package, &source)?;
        }
        Ok::<_, RestoreError>(())
    })
    .await??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockfile_entries_across_frameworks_skip_projects() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("packages.lock.json");
        fs_err::write(&path, r#"{"version":1,"dependencies":{"net8.0":{"Newtonsoft.Json":{"type":"Direct","requested":"[13.0.3, )","resolved":"13.0.3","contentHash":"AAAA"},"mylib":{"type":"Project"}},"net8.0/linux-x64":{"Newtonsoft.Json":{"type":"Direct","resolved":"13.0.3.0","contentHash":"AAAA"}}}}"#).unwrap();
        let packages = read(&path).unwrap();
        assert_eq!(packages.len(), 1);
        assert_eq!(packages[0].lower_id, "newtonsoft.json");
        assert_eq!(packages[0].lower_version, "13.0.3");
        assert_eq!(
            service_index_url(&url::Url::parse("http://h/d/l/nuget/main/").unwrap()),
            "http://h/d/l/nuget/main/v3/index.json"
        );
    }

    #[test]
    fn zip_slip_entries_are_refused() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let nupkg = dir.path().join("evil.nupkg");
        let mut writer = zip::ZipWriter::new(fs_err::File::create(&nupkg).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        writer.start_file("evil.nuspec", options).unwrap();
        writer.write_all(br#"<?xml version="1.0"?><package><metadata><id>Evil</id><version>1.0.0</version><authors>a</authors><description>d</description></metadata></package>"#).unwrap();
        writer
            .start_file("lib/%2E%2E/%2E%2E/escape.txt", options)
            .unwrap();
        writer.write_all(b"x").unwrap();
        writer.finish().unwrap();
        let package = LockedPackage {
            lower_id: "evil".into(),
            lower_version: "1.0.0".into(),
            content_hash: String::new(),
        };
        let root = dir.path().join("packages");
        let error = install(&root, &dir.path().join("locks"), &nupkg, &package, "src").unwrap_err();
        assert!(
            error.to_string().contains("outside") || error.to_string().contains("unsafe"),
            "{error}"
        );
        assert!(!root.join("evil/1.0.0").exists());
        assert!(!dir.path().join("escape.txt").exists());
    }

    fn nupkg_with(dir: &Path, entry: impl FnOnce(&mut zip::ZipWriter<fs_err::File>)) -> PathBuf {
        use std::io::Write as _;
        let nupkg = dir.join("evil.nupkg");
        let mut writer = zip::ZipWriter::new(fs_err::File::create(&nupkg).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        writer.start_file("evil.nuspec", options).unwrap();
        writer.write_all(br#"<?xml version="1.0"?><package><metadata><id>Evil</id><version>1.0.0</version><authors>a</authors><description>d</description></metadata></package>"#).unwrap();
        entry(&mut writer);
        writer.finish().unwrap();
        nupkg
    }

    fn evil() -> LockedPackage {
        LockedPackage {
            lower_id: "evil".into(),
            lower_version: "1.0.0".into(),
            content_hash: String::new(),
        }
    }

    #[test]
    fn absolute_backslash_and_dot_dot_entries_are_refused() {
        use std::io::Write as _;
        for name in [
            "../escape.txt",
            "lib/../../escape.txt",
            "/tmp/escape.txt",
            "lib\\..\\..\\escape.txt",
            "lib/%2e%2e%2f%2e%2e%2fescape.txt",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let nupkg = nupkg_with(dir.path(), |writer| {
                writer
                    .start_file(name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                writer.write_all(b"x").unwrap();
            });
            let root = dir.path().join("packages");
            let result = install(&root, &dir.path().join("locks"), &nupkg, &evil(), "src");
            assert!(result.is_err(), "{name}");
            assert!(!root.join("evil/1.0.0").exists(), "{name}");
            assert!(!dir.path().join("escape.txt").exists(), "{name}");
        }
    }

    /// A symlink entry is written as a plain file holding the link text: extraction never
    /// creates a link a later entry could be written through.
    #[cfg(unix)]
    #[test]
    fn symlink_entries_are_never_created_as_links() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs_err::create_dir_all(&outside).unwrap();
        let target = outside.display().to_string();
        let nupkg = nupkg_with(dir.path(), |writer| {
            let options = zip::write::SimpleFileOptions::default();
            writer.add_symlink("lib/link", &target, options).unwrap();
            writer.start_file("lib/link/escape.txt", options).unwrap();
            writer.write_all(b"x").unwrap();
        });
        let root = dir.path().join("packages");
        let _ = install(&root, &dir.path().join("locks"), &nupkg, &evil(), "src");
        assert!(!outside.join("escape.txt").exists());
        let link = root.join("evil/1.0.0/lib/link");
        if let Ok(metadata) = fs_err::symlink_metadata(&link) {
            assert!(!metadata.file_type().is_symlink());
        }
    }
}
