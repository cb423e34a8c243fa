//! `Cargo.lock` restored into a vendor directory: the directory source cargo reads with
//! `--offline`, in the layout `cargo vendor --versioned-dirs` writes (`<name>-<version>/`
//! with the crate's files and a `.cargo-checksum.json` naming the `.crate`'s SHA-256).
//!
//! Why not `$CARGO_HOME/registry`: for an offline build cargo needs its index cache there
//! too, in a binary format and under a directory named by a hash of the registry's
//! `SourceId` that changed between cargo releases (1.85 renamed every one); a directory
//! source is documented and stable, and cargo checks each package against `Cargo.lock`'s
//! checksum there just as it does a download.
//!
//! Crates come from lading's store when it has them (a warm restore makes no request), else
//! from the configured repository: its sparse index `config.json` gives the download
//! template (`dl`), and every `.crate` is verified against `Cargo.lock`'s `checksum` before
//! it is unpacked, on as many threads as there are cores. Packages from git or another registry than crates.io
//! are reported as skipped; workspace members have no source and need nothing.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use toml_edit::Item;

use crate::cas::{Algorithm, Digest};
use crate::fetcher::{Fetcher, RestoreError, Summary};
use crate::secret::SafeUrl;

/// The `source` of a crates.io package in `Cargo.lock` (also with `-Z sparse-registry`).
/// (`sparse+https://index.crates.io/` appears only for an alternative registry declared with
/// that index, which `source.crates-io.replace-with` does not replace: left to cargo.)
const CRATES_IO_SOURCES: &[&str] = &["registry+https://github.com/rust-lang/crates.io-index"];

/// The most a `.crate` may unpack to (cargo's own limit against gzip bombs).
const MAX_UNPACKED_BYTES: u64 = 512 * 1024 * 1024;

/// Whether a name and version can name a vendor folder: crate names are ASCII letters,
/// digits, `-` and `_`; versions are SemVer (`+`, `.`, `-` and alphanumerics).
fn plain(name: &str, version: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-_".contains(character))
        && !version.is_empty()
        && !version.starts_with('.')
        && version
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || ".-+".contains(character))
}

/// A package `Cargo.lock` pins from crates.io.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedCrate {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// SHA-256 of the `.crate`, lowercase hex.
    pub checksum: String,
    /// `file:line`.
    pub origin: String,
}

/// A `Cargo.lock` lading cannot use.
#[derive(Debug, thiserror::Error)]
#[error("`{origin}`: {message}")]
pub struct CargoLockError {
    /// `file` or `file:line`.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

/// Parse `Cargo.lock` (versions 1 to 4; version 1 keeps checksums in `[metadata]`).
///
/// # Errors
/// TOML errors, and a crates.io package without a checksum, naming file and line.
pub fn parse(path: &Path, text: &str) -> Result<(Vec<LockedCrate>, Vec<String>), CargoLockError> {
    let document = toml_edit::Document::parse(text).map_err(|error| CargoLockError {
        origin: path.display().to_string(),
        message: format!("not valid TOML: {error}"),
    })?;
    let metadata = document.get("metadata").and_then(Item::as_table_like);
    let mut crates = Vec::new();
    let mut notes = Vec::new();
    let Some(packages) = document.get("package").and_then(Item::as_array_of_tables) else {
        return Ok((crates, notes));
    };
    for package in packages {
        let line = package
            .span()
            .map_or(0, |span| crate::ecosystem::line_at(text, span.start));
        let origin = format!("{}:{line}", path.display());
        let text_of = |key: &str| package.get(key).and_then(Item::as_str);
        let (Some(name), Some(version)) = (text_of("name"), text_of("version")) else {
            return Err(CargoLockError {
                origin,
                message: "a package without `name` or `version`".to_owned(),
            });
        };
        let Some(source) = text_of("source") else {
            continue;
        };
        if !plain(name, version) {
            return Err(CargoLockError {
                origin,
                message: format!("`{name} {version}` is not a crate name and version"),
            });
        }
        if !CRATES_IO_SOURCES.contains(&source) {
            notes.push(format!(
                "{origin}: `{name} {version}` comes from `{source}`, not crates.io; not restored, so an offline build needs it from elsewhere"
            ));
            continue;
        }
        let checksum = text_of("checksum").map(str::to_owned).or_else(|| {
            metadata
                .and_then(|table| table.get(&format!("checksum {name} {version} ({source})")))
                .and_then(Item::as_str)
                .map(str::to_owned)
        });
        let Some(checksum) =
            checksum.filter(|hex_text| Digest::from_hex(Algorithm::Sha256, hex_text).is_some())
        else {
            return Err(CargoLockError {
                origin,
                message: format!(
                    "`{name} {version}` has no sha256 `checksum`; run `cargo generate-lockfile` to write one"
                ),
            });
        };
        crates.push(LockedCrate {
            name: name.to_owned(),
            version: version.to_owned(),
            checksum: checksum.to_ascii_lowercase(),
            origin,
        });
    }
    Ok((crates, notes))
}

/// The index path prefix cargo uses for a crate name (`1`, `2`, `3/a`, `ab/cd`).
fn prefix(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let part = |range: std::ops::Range<usize>| chars[range].iter().collect::<String>();
    match chars.len() {
        0 => String::new(),
        1 => "1".to_owned(),
        2 => "2".to_owned(),
        3 => format!("3/{}", part(0..1)),
        _ => format!("{}/{}", part(0..2), part(2..4)),
    }
}

/// The download URL of a crate from the registry's `dl` template (the registry index
/// documentation's markers, or `<dl>/<crate>/<version>/download` without any).
#[must_use]
pub fn download_url(dl: &str, krate: &LockedCrate) -> String {
    const MARKERS: &[&str] = &[
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if MARKERS.iter().any(|marker| dl.contains(marker)) {
        let prefix = prefix(&krate.name);
        dl.replace("{crate}", &krate.name)
            .replace("{version}", &krate.version)
            .replace("{lowerprefix}", &prefix.to_lowercase())
            .replace("{prefix}", &prefix)
            .replace("{sha256-checksum}", &krate.checksum)
    } else {
        format!(
            "{}/{}/{}/download",
            dl.trim_end_matches('/'),
            krate.name,
            krate.version
        )
    }
}

/// Unpack a verified `.crate` (`<name>-<version>/...` inside) into `temp`, refusing any
/// entry outside that folder and anything but files and directories.
fn unpack(crate_file: &Path, krate: &LockedCrate, temp: &Path) -> Result<(), RestoreError> {
    let invalid = |message: String| {
        RestoreError::Invalid(format!("`{} {}`: {message}", krate.name, krate.version))
    };
    let file = fs_err::File::open(crate_file).map_err(RestoreError::io(crate_file))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let top = format!("{}-{}", krate.name, krate.version);
    let entries = archive
        .entries()
        .map_err(|error| invalid(format!("not a .crate (gzip tar): {error}")))?;
    let mut unpacked: u64 = 0;
    for entry in entries {
        let mut entry = entry.map_err(|error| invalid(format!("unreadable .crate: {error}")))?;
        let path = entry
            .path()
            .map_err(|error| invalid(format!("bad entry name: {error}")))?
            .into_owned();
        let relative = path.strip_prefix(&top).map_err(|_| {
            invalid(format!(
                "the entry `{}` is outside `{top}/`",
                path.display()
            ))
        })?;
        if relative
            .components()
            .any(|part| !matches!(part, std::path::Component::Normal(_)))
        {
            return Err(invalid(format!(
                "the entry `{}` would be written outside its folder",
                path.display()
            )));
        }
        let kind = entry.header().entry_type();
        let target = temp.join(relative);
        if kind.is_dir() {
            fs_err::create_dir_all(&target).map_err(RestoreError::io(&target))?;
        } else if kind.is_file() {
            unpacked = unpacked.saturating_add(entry.header().size().unwrap_or(u64::MAX));
            if unpacked > MAX_UNPACKED_BYTES {
                return Err(invalid(format!(
                    "it unpacks to more than {} MiB",
                    MAX_UNPACKED_BYTES / 1024 / 1024
                )));
            }
            if let Some(parent) = target.parent() {
                fs_err::create_dir_all(parent).map_err(RestoreError::io(parent))?;
            }
            let mut out = fs_err::File::create(&target).map_err(RestoreError::io(&target))?;
            std::io::copy(&mut entry, &mut out).map_err(RestoreError::io(&target))?;
            #[cfg(unix)]
            if entry.header().mode().is_ok_and(|mode| mode & 0o111 != 0) {
                use std::os::unix::fs::PermissionsExt as _;
                fs_err::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
                    .map_err(RestoreError::io(&target))?;
            }
        } else {
            return Err(invalid(format!(
                "the entry `{}` is a link or device; a .crate holds files only",
                path.display()
            )));
        }
    }
    let checksum = serde_json::json!({ "files": {}, "package": krate.checksum });
    let path = temp.join(".cargo-checksum.json");
    fs_err::write(&path, checksum.to_string()).map_err(RestoreError::io(&path))
}

/// The sparse index's download template (`dl` in `config.json`).
async fn download_template(fetcher: &Fetcher, registry: &SafeUrl) -> anyhow::Result<String> {
    let mut index = registry.expose().clone();
    if !index.path().ends_with('/') {
        index.set_path(&format!("{}/", index.path()));
    }
    let config_url = SafeUrl::from(index.join("config.json")?);
    let config = fetcher
        .document("cargo registry config.json", &config_url, None, false)
        .await
        .with_context(|| format!("{config_url}: is the repository a cargo sparse registry?"))?;
    serde_json::from_slice::<serde_json::Value>(&config.body)
        .ok()
        .and_then(|document| document["dl"].as_str().map(str::to_owned))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{config_url} has no `dl`: the repository is not a cargo sparse registry"
            )
        })
}

/// Unpack every verified `.crate` into its `<name>-<version>` folder under `vendor`, on as
/// many threads as there are cores (each into a temp folder renamed into place); the first
/// failure stops the others and is returned.
fn unpack_all(
    vendor: &Path,
    pending: &[(LockedCrate, crate::cas::Blob)],
) -> Result<(), RestoreError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(pending.len())
        .max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<(), RestoreError> {
                    while !failed.load(Ordering::Relaxed) {
                        let Some((krate, blob)) = pending.get(next.fetch_add(1, Ordering::Relaxed))
                        else {
                            break;
                        };
                        let result = unpack_one(vendor, krate, &blob.path);
                        if result.is_err() {
                            failed.store(true, Ordering::Relaxed);
                            return result;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        let mut first = Ok(());
        for worker in workers {
            let result = worker.join().unwrap_or_else(|_| {
                Err(RestoreError::Invalid(
                    "internal: an unpack thread panicked".to_owned(),
                ))
            });
            if first.is_ok() {
                first = result;
            }
        }
        first
    })
}

/// Unpack one `.crate` into a temp folder beside its folder, then rename it into place.
fn unpack_one(vendor: &Path, krate: &LockedCrate, crate_file: &Path) -> Result<(), RestoreError> {
    let folder = vendor.join(format!("{}-{}", krate.name, krate.version));
    let temp = vendor.join(format!(
        ".lading-tmp-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    if let Err(error) = unpack(crate_file, krate, &temp) {
        let _ = fs_err::remove_dir_all(&temp);
        return Err(error);
    }
    if folder.exists() {
        fs_err::remove_dir_all(&folder).map_err(RestoreError::io(&folder))?;
    }
    fs_err::rename(&temp, &folder).map_err(RestoreError::io(&folder))
}

/// Whether `folder` already holds the package with this checksum.
fn already_vendored(folder: &Path, checksum: &str) -> bool {
    folder.join("Cargo.toml").is_file()
        && fs_err::read_to_string(folder.join(".cargo-checksum.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|document| document["package"] == checksum)
}

/// Restore `lockfiles` into the vendor directory `vendor`, counting them in `summary`.
///
/// # Errors
/// Unusable lockfiles, a registry without `config.json`, and the first failed or
/// mismatched download (nothing is unpacked then).
pub async fn restore(
    fetcher: &Fetcher,
    registry: &SafeUrl,
    vendor: &Path,
    lock_dir: &Path,
    lockfiles: &[PathBuf],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut crates: Vec<LockedCrate> = Vec::new();
    for path in lockfiles {
        let text = fs_err::read_to_string(path)?;
        let (found, notes) = parse(path, &text)?;
        summary.skipped.extend(notes);
        for krate in found {
            if !crates
                .iter()
                .any(|known| known.name == krate.name && known.version == krate.version)
            {
                crates.push(krate);
            }
        }
    }
    if crates.is_empty() {
        return Ok(());
    }
    // Every `.crate` the store already has needs nothing from the registry: a warm restore
    // makes no request at all, not even for `config.json`.
    let mut verified = Vec::new();
    let mut missing = Vec::new();
    for krate in crates {
        let digest = Digest::from_hex(Algorithm::Sha256, &krate.checksum)
            .ok_or_else(|| RestoreError::Invalid(format!("`{}`: bad checksum", krate.origin)))?;
        match fetcher.stored(std::slice::from_ref(&digest)) {
            Some(fetched) => verified.push((krate, fetched.blob)),
            None => missing.push((krate, digest)),
        }
    }
    if !missing.is_empty() {
        let dl = download_template(fetcher, registry).await?;
        let mut tasks = tokio::task::JoinSet::new();
        for (krate, digest) in missing {
            let fetcher = fetcher.clone();
            let url = download_url(&dl, &krate);
            tasks.spawn(async move {
                let spec = format!("{} {}", krate.name, krate.version);
                let source = SafeUrl::parse(&url).map_err(|error| {
                    RestoreError::Invalid(format!("`{}`: bad URL `{url}`: {error}", krate.origin))
                })?;
                let fetched = fetcher.verified(&spec, &source, &[digest]).await?;
                Ok::<_, RestoreError>((krate, fetched.blob))
            });
        }
        verified.extend(crate::fetcher::join_all(tasks).await?);
    }
    let count = verified.len();
    let vendor = vendor.to_path_buf();
    let lock_path = lock_dir.join("cargo-vendor.lock");
    tokio::task::spawn_blocking(move || -> Result<(), RestoreError> {
        // One restore at a time replaces folders (another may be reading one).
        let _lock =
            crate::fsx::FileLock::acquire(&lock_path).map_err(RestoreError::io(&lock_path))?;
        fs_err::create_dir_all(&vendor).map_err(RestoreError::io(&vendor))?;
        let pending: Vec<_> = verified
            .into_iter()
            .filter(|(krate, _)| {
                !already_vendored(
                    &vendor.join(format!("{}-{}", krate.name, krate.version)),
                    &krate.checksum,
                )
            })
            .collect();
        unpack_all(&vendor, &pending)
    })
    .await??;
    summary.packages = count;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = "2c2b9bd2b2c0ff7b4b2a8c1f7a4d4c3c6b6a2c1e0d9f8e7d6c5b4a3928170605";

    #[test]
    fn lockfiles_v4_and_v1_give_crates_io_packages() {
        let v4 = format!(
            "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"itoa\"]\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.19\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{SUM}\"\n\n[[package]]\nname = \"mine\"\nversion = \"0.2.0\"\nsource = \"git+https://example.com/mine#abc\"\n"
        );
        let (crates, notes) = parse(Path::new("Cargo.lock"), &v4).unwrap();
        assert_eq!(
            crates,
            [LockedCrate {
                name: "itoa".into(),
                version: "1.0.19".into(),
                checksum: SUM.into(),
                origin: "Cargo.lock:8".into()
            }]
        );
        assert!(
            notes[0].contains("Cargo.lock:14") && notes[0].contains("not crates.io"),
            "{notes:?}"
        );
        let v1 = format!(
            "[[package]]\nname = \"itoa\"\nversion = \"1.0.19\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[metadata]\n\"checksum itoa 1.0.19 (registry+https://github.com/rust-lang/crates.io-index)\" = \"{SUM}\"\n"
        );
        let (crates, _) = parse(Path::new("Cargo.lock"), &v1).unwrap();
        assert_eq!(crates[0].checksum, SUM);
        let error = parse(
            Path::new("Cargo.lock"),
            "[[package]]\nname = \"itoa\"\nversion = \"1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
        )
        .unwrap_err();
        assert_eq!(error.origin, "Cargo.lock:1");
        assert!(error.message.contains("no sha256 `checksum`"), "{error}");
        assert!(
            parse(Path::new("Cargo.lock"), "[[package]\n")
                .unwrap_err()
                .message
                .contains("TOML")
        );
    }

    #[test]
    fn download_urls_follow_the_dl_template() {
        let krate = LockedCrate {
            name: "Serde_json".into(),
            version: "1.0.1".into(),
            checksum: SUM.into(),
            origin: String::new(),
        };
        assert_eq!(
            download_url("https://static.crates.io/crates", &krate),
            "https://static.crates.io/crates/Serde_json/1.0.1/download"
        );
        assert_eq!(
            download_url(
                "https://r/{prefix}/{lowerprefix}/{crate}-{version}.crate?{sha256-checksum}",
                &krate
            ),
            format!("https://r/Se/rd/se/rd/Serde_json-1.0.1.crate?{SUM}")
        );
        assert_eq!(prefix("a"), "1");
        assert_eq!(prefix("ab"), "2");
        assert_eq!(prefix("abc"), "3/a");
    }

    fn crate_file(dir: &Path, entries: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join("x.crate");
        let file = fs_err::File::create(&path).unwrap();
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ));
        for (name, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // `append_data` refuses `..`; a hostile archive would not.
            header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        path
    }

    #[test]
    fn crates_unpack_into_their_folder_and_hostile_entries_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let krate = LockedCrate {
            name: "demo".into(),
            version: "1.0.0".into(),
            checksum: SUM.into(),
            origin: String::new(),
        };
        let good = crate_file(
            dir.path(),
            &[
                ("demo-1.0.0/Cargo.toml", b"[package]\n"),
                ("demo-1.0.0/src/lib.rs", b""),
            ],
        );
        let temp = dir.path().join("out");
        unpack(&good, &krate, &temp).unwrap();
        assert!(temp.join("src/lib.rs").is_file());
        assert!(already_vendored(&temp, SUM));
        for hostile in ["demo-1.0.0/../../evil", "other-1.0.0/Cargo.toml"] {
            let bad = crate_file(dir.path(), &[(hostile, b"x")]);
            let error = unpack(&bad, &krate, &dir.path().join("bad")).unwrap_err();
            assert!(error.to_string().contains("outside"), "{hostile}: {error}");
        }
        assert!(!dir.path().join("evil").exists());
    }
}
