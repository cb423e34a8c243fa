//! `pnpm-lock.yaml` (lockfile v9) restored into pnpm's content-addressable store, so
//! `pnpm install --offline --frozen-lockfile` needs no registry.
//!
//! The store layout is pnpm 12's (`<store>/v11`, verified with pnpm 12.4.2):
//! - every file of a package at `files/<sha512 hex[..2]>/<sha512 hex[2..]>`, with `-exec`
//!   appended for executables;
//! - one row per package in the SQLite table `package_index` of `index.db`, keyed
//!   `<integrity>\t<name>@<version>`, whose `data` is a MessagePack map `{algo, requiresBuild,
//!   manifest, files: {path: {digest, mode, size, checkedAt}}}`. pnpm writes it with
//!   msgpackr's record extension and reads plain maps as well.
//!
//! pnpm 10's store (`<store>/v10`) is written beside it from the same files (hard links):
//! the same `files/` layout, and per package a JSON index file
//! `index/<h[..2]>/<h[2..64]>-<name with / as +>@<version>.json` (`h` the hex SHA-512 of the
//! tarball) holding `{name, version, requiresBuild, files: {path: {checkedAt, integrity,
//! mode, size}}}`. So either pnpm installs offline from the store.
//!
//! Tarballs come from the configured registry (`<registry>/<name>/-/<basename>-<version>.tgz`)
//! and are verified against the lockfile's `integrity` before anything is unpacked; files go
//! in first and the index rows last, in one transaction, so no row names a missing file.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cas::Digest;
use crate::fetcher::{Fetcher, RestoreError, Summary};
use crate::secret::SafeUrl;

/// The store version directory pnpm 12 uses.
pub const STORE_VERSION: &str = "v11";

/// The store version directory pnpm 10 uses.
pub const STORE_VERSION_10: &str = "v10";

/// The most a tarball may unpack to (a guard against gzip bombs).
const MAX_UNPACKED_BYTES: u64 = 1024 * 1024 * 1024;

/// A registry package `pnpm-lock.yaml` pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PnpmPackage {
    /// Name (`@scope/name`).
    pub name: String,
    /// Version.
    pub version: String,
    /// SRI integrity as the lockfile writes it (the store's key).
    pub integrity: String,
}

/// A `pnpm-lock.yaml` lading cannot use.
#[derive(Debug, thiserror::Error)]
#[error("`{path}`: {message}")]
pub struct PnpmLockError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Whether a pnpm lockfile's text says `lockfileVersion` 6 or later (pnpm 8 on), read from
/// its first such line without parsing the YAML (discovery asks of every lockfile found).
#[must_use]
pub fn is_current(text: &str) -> bool {
    text.lines()
        .find_map(|line| line.strip_prefix("lockfileVersion:"))
        .map(|value| value.trim().trim_matches(['\'', '"']))
        .and_then(|value| value.split('.').next()?.parse::<u32>().ok())
        .is_some_and(|major| major >= 6)
}

/// Split a `packages:` key `name@version` (`@scope/name@version`).
fn split_key(key: &str) -> Option<(&str, &str)> {
    super::split_at_version(key).filter(|(_, version)| !version.is_empty())
}

/// Parse a pnpm lockfile (v9; v6 keys `/name@version` are read too): the registry packages,
/// and notes on those from elsewhere (tarball URLs, git, directories).
///
/// # Errors
/// YAML errors, an older lockfile format, or a registry package without `integrity`.
pub fn parse(path: &Path, text: &str) -> Result<(Vec<PnpmPackage>, Vec<String>), PnpmLockError> {
    use serde::Deserialize as _;
    let error = |message: String| PnpmLockError {
        path: path.display().to_string(),
        message,
    };
    let mut packages = Vec::new();
    let mut notes = Vec::new();
    // A project with `packageManager` gets two documents: pnpm's own dependencies first,
    // then the project's. Both are restored.
    for document in serde_yaml::Deserializer::from_str(text) {
        let document = Value::deserialize(document)
            .map_err(|yaml| error(format!("not valid YAML: {yaml}")))?;
        if document.is_null() {
            continue;
        }
        parse_document(&document, &mut packages, &mut notes).map_err(error)?;
    }
    packages.sort_by(|left, right| (&left.name, &left.version).cmp(&(&right.name, &right.version)));
    packages.dedup();
    Ok((packages, notes))
}

fn parse_document(
    document: &Value,
    packages: &mut Vec<PnpmPackage>,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let version = match &document["lockfileVersion"] {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => String::new(),
    };
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(0);
    if major < 6 {
        return Err(format!(
            "lockfileVersion `{version}` is older than pnpm 8's; run `pnpm install` with a current pnpm to rewrite it"
        ));
    }
    // v9 marks optional packages in `snapshots` (each peer variant): optional when every
    // variant is.
    let mut optional: BTreeMap<&str, bool> = BTreeMap::new();
    for (key, snapshot) in document["snapshots"].as_object().into_iter().flatten() {
        let base = key.split('(').next().unwrap_or(key);
        let this = snapshot["optional"].as_bool() == Some(true);
        optional
            .entry(base)
            .and_modify(|all| *all &= this)
            .or_insert(this);
    }
    for (key, entry) in document["packages"].as_object().into_iter().flatten() {
        let key = key.strip_prefix('/').unwrap_or(key);
        // v6 keys may carry a peer suffix: `name@1.0.0(peer@2.0.0)`.
        let key = key.split('(').next().unwrap_or(key);
        let resolution = &entry["resolution"];
        let Some((name, version)) = split_key(key) else {
            notes.push(format!("`{key}` is not `name@version`; not restored"));
            continue;
        };
        // `lockfileIncludeTarballUrl` writes registry tarballs as `tarball:` too.
        let registry_tarball = resolution["tarball"]
            .as_str()
            .is_some_and(|url| url.contains(&format!("/{name}/-/")));
        if resolution.get("directory").is_some()
            || version.starts_with("file:")
            || version.starts_with("link:")
        {
            // A local directory: pnpm installs it from the disk, offline or not.
            continue;
        }
        if (resolution.get("tarball").is_some() && !registry_tarball)
            || resolution.get("repo").is_some()
            || version.contains(':')
        {
            notes.push(format!(
                "`{key}` does not come from the registry; not restored, so `pnpm install --offline` cannot install it"
            ));
            continue;
        }
        let is_optional = entry["optional"].as_bool() == Some(true)
            || optional.get(key).copied().unwrap_or(false);
        if is_optional && !super::for_this_platform(entry) {
            // pnpm skips it on this machine too: not worth a warning.
            tracing::debug!(package = %key, "optional, for another platform; not restored");
            continue;
        }
        let Some(integrity) = resolution["integrity"].as_str() else {
            return Err(format!("`{key}` has no `resolution.integrity`"));
        };
        packages.push(PnpmPackage {
            name: name.to_owned(),
            version: version.to_owned(),
            integrity: integrity.to_owned(),
        });
    }
    Ok(())
}

/// The registry URL of a package's tarball.
#[must_use]
pub fn tarball_url(registry: &url::Url, package: &PnpmPackage) -> String {
    let base = registry.as_str().trim_end_matches('/');
    let basename = package.name.rsplit('/').next().unwrap_or(&package.name);
    format!(
        "{base}/{}/-/{basename}-{}.tgz",
        package.name, package.version
    )
}

// ---- MessagePack (the subset pnpm's index needs) --------------------------------------

/// A length: in the type byte up to `fix_max`, else after an 8-bit (strings only), 16-bit
/// or 32-bit marker (`markers`; 0 where the type has no 8-bit form).
fn put_length(out: &mut Vec<u8>, length: usize, fix: u8, fix_max: usize, markers: [u8; 3]) {
    if length <= fix_max {
        #[expect(clippy::cast_possible_truncation, reason = "at most fix_max")]
        out.push(fix | length as u8);
    } else if let Ok(short) = u8::try_from(length)
        && markers[0] != 0
    {
        out.push(markers[0]);
        out.push(short);
    } else if let Ok(medium) = u16::try_from(length) {
        out.push(markers[1]);
        out.extend_from_slice(&medium.to_be_bytes());
    } else {
        out.push(markers[2]);
        out.extend_from_slice(&u32::try_from(length).unwrap_or(u32::MAX).to_be_bytes());
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_length(out, text.len(), 0xa0, 31, [0xd9, 0xda, 0xdb]);
    out.extend_from_slice(text.as_bytes());
}

fn put_uint(out: &mut Vec<u8>, value: u64) {
    if value < 128 {
        #[expect(clippy::cast_possible_truncation, reason = "below 128")]
        out.push(value as u8);
    } else if let Ok(value) = u32::try_from(value) {
        out.push(0xce);
        out.extend_from_slice(&value.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&value.to_be_bytes());
    }
}

fn put_map_header(out: &mut Vec<u8>, length: usize) {
    put_length(out, length, 0x80, 15, [0, 0xde, 0xdf]);
}

/// Encode a JSON value as MessagePack.
pub fn put_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(0xc0),
        Value::Bool(false) => out.push(0xc2),
        Value::Bool(true) => out.push(0xc3),
        Value::Number(number) => {
            if let Some(unsigned) = number.as_u64() {
                put_uint(out, unsigned);
            } else if let Some(signed) = number.as_i64() {
                out.push(0xd3);
                out.extend_from_slice(&signed.to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&number.as_f64().unwrap_or(0.0).to_be_bytes());
            }
        }
        Value::String(text) => put_str(out, text),
        Value::Array(items) => {
            put_length(out, items.len(), 0x90, 15, [0, 0xdc, 0xdd]);
            for item in items {
                put_value(out, item);
            }
        }
        Value::Object(map) => {
            put_map_header(out, map.len());
            for (key, item) in map {
                put_str(out, key);
                put_value(out, item);
            }
        }
    }
}

// ---- unpacking -------------------------------------------------------------------------

/// One file of a package: its path in the package, content digest (hex), mode, size.
#[derive(Debug)]
struct PackageFile {
    path: String,
    digest: String,
    executable: bool,
    size: u64,
    data: Vec<u8>,
}

/// Read a verified tarball: its files (the first path component, `package/` for npm, is
/// dropped as pnpm drops it) and its `package.json`.
fn read_tarball(tarball: &Path, spec: &str) -> Result<(Vec<PackageFile>, Value), RestoreError> {
    let invalid = |message: String| RestoreError::Invalid(format!("`{spec}`: {message}"));
    let file = fs_err::File::open(tarball).map_err(RestoreError::io(tarball))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut files: BTreeMap<String, PackageFile> = BTreeMap::new();
    let mut unpacked: u64 = 0;
    let entries = archive
        .entries()
        .map_err(|error| invalid(format!("not a gzip tarball: {error}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| invalid(format!("unreadable tarball: {error}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|error| invalid(format!("bad entry name: {error}")))?
            .into_owned();
        // The first component (`package/`) is dropped; a file right at the root stays.
        let mut parts = path.components();
        if path.components().count() > 1 {
            parts.next();
        }
        let relative = parts.as_path();
        if relative.as_os_str().is_empty()
            || relative
                .components()
                .any(|part| !matches!(part, std::path::Component::Normal(_)))
        {
            return Err(invalid(format!(
                "the entry `{}` would be written outside the package",
                path.display()
            )));
        }
        let size = entry.header().size().unwrap_or(u64::MAX);
        unpacked = unpacked.saturating_add(size);
        if unpacked > MAX_UNPACKED_BYTES {
            return Err(invalid("it unpacks to more than 1 GiB".to_owned()));
        }
        let executable = entry.header().mode().is_ok_and(|mode| mode & 0o111 != 0);
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|error| invalid(format!("unreadable entry: {error}")))?;
        let relative = relative.to_string_lossy().replace('\\', "/");
        let digest = Digest::of(crate::cas::Algorithm::Sha512, &data).hex();
        // A later entry of the same path wins, as when extracting.
        files.insert(
            relative.clone(),
            PackageFile {
                path: relative,
                digest,
                executable,
                size: data.len() as u64,
                data,
            },
        );
    }
    let manifest = files
        .get("package.json")
        .and_then(|file| {
            let data = file
                .data
                .strip_prefix(b"\xef\xbb\xbf")
                .unwrap_or(&file.data);
            serde_json::from_slice::<Value>(data).ok()
        })
        .ok_or_else(|| invalid("the tarball has no readable package.json".to_owned()))?;
    Ok((files.into_values().collect(), manifest))
}

/// Whether pnpm would build the package: install scripts, `binding.gyp`, or `.hooks/`.
fn requires_build(manifest: &Value, files: &[PackageFile]) -> bool {
    let scripts = &manifest["scripts"];
    ["preinstall", "install", "postinstall"].iter().any(|name| {
        scripts[name]
            .as_str()
            .is_some_and(|script| !script.is_empty())
    }) || files
        .iter()
        .any(|file| file.path == "binding.gyp" || file.path.starts_with(".hooks/"))
}

/// A file's place under a store's `files/`: `<hex[..2]>/<hex[2..]>[-exec]` (the same for
/// pnpm 10 and 12).
fn store_file(file: &PackageFile) -> PathBuf {
    Path::new(&file.digest[..2]).join(format!(
        "{}{}",
        &file.digest[2..],
        if file.executable { "-exec" } else { "" }
    ))
}

/// Write one file into the store's `files/` unless it is there (content-addressed): a temp
/// file then a rename, so no reader sees half a file. The `files/xx` directories exist
/// already ([`make_file_dirs`]).
fn put_file(store: &Path, file: &PackageFile, temp_prefix: &str) -> Result<(), RestoreError> {
    let target = store.join("files").join(store_file(file));
    if target.exists() {
        return Ok(());
    }
    let temp = target.with_file_name(format!("{temp_prefix}{}", rand::random::<u64>()));
    let mut options = fs_err::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use fs_err::os::unix::fs::OpenOptionsExt as _;
        options.mode(if file.executable { 0o755 } else { 0o644 });
    }
    std::io::Write::write_all(
        &mut options.open(&temp).map_err(RestoreError::io(&temp))?,
        &file.data,
    )
    .map_err(RestoreError::io(&temp))?;
    fs_err::rename(&temp, &target).map_err(RestoreError::io(&target))
}

/// The 256 `files/xx` directories of a store, made once instead of per file.
fn make_file_dirs(store: &Path) -> Result<(), RestoreError> {
    for byte in 0..=255_u8 {
        let dir = store.join("files").join(format!("{byte:02x}"));
        fs_err::create_dir_all(&dir).map_err(RestoreError::io(&dir))?;
    }
    Ok(())
}

/// The same file in pnpm 10's store: a hard link to pnpm 12's copy (atomic, so straight to
/// its name), or a copy where links do not work.
fn link_file_v10(store: &Path, store_10: &Path, file: &PackageFile) -> Result<(), RestoreError> {
    let relative = store_file(file);
    let source = store.join("files").join(&relative);
    let target = store_10.join("files").join(&relative);
    match fs_err::hard_link(&source, &target) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) => crate::cas::link_or_copy(&source, &target).map_err(RestoreError::io(&target)),
    }
}

/// pnpm 10's index file for a package, relative to `<store>/v10`.
fn index_path_v10(package: &PnpmPackage) -> Option<PathBuf> {
    let sha512 = Digest::parse_sri(&package.integrity)
        .into_iter()
        .find(|digest| digest.algorithm == crate::cas::Algorithm::Sha512)?
        .hex();
    Some(Path::new("index").join(&sha512[..2]).join(format!(
        "{}-{}@{}.json",
        &sha512[2..64],
        package.name.replace('/', "+"),
        package.version
    )))
}

/// pnpm 10's index JSON for a package.
fn index_json_v10(
    package: &PnpmPackage,
    requires: bool,
    files: &[PackageFile],
    checked_at: u64,
) -> Vec<u8> {
    use base64::Engine as _;
    let files: serde_json::Map<String, Value> = files
        .iter()
        .filter_map(|file| {
            let bytes = hex::decode(&file.digest).ok()?;
            Some((
                file.path.clone(),
                serde_json::json!({
                    "checkedAt": checked_at,
                    "integrity": format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(bytes)),
                    "mode": if file.executable { 0o755 } else { 0o644 },
                    "size": file.size,
                }),
            ))
        })
        .collect();
    serde_json::json!({
        "name": package.name,
        "version": package.version,
        "requiresBuild": requires,
        "files": files,
    })
    .to_string()
    .into_bytes()
}

/// The index row's MessagePack for a package.
fn index_data(manifest: &Value, files: &[PackageFile], checked_at: u64) -> Vec<u8> {
    let mut out = Vec::new();
    put_map_header(&mut out, 4);
    put_str(&mut out, "algo");
    put_str(&mut out, "sha512");
    put_str(&mut out, "requiresBuild");
    put_value(&mut out, &Value::Bool(requires_build(manifest, files)));
    put_str(&mut out, "manifest");
    put_value(&mut out, manifest);
    put_str(&mut out, "files");
    put_map_header(&mut out, files.len());
    for file in files {
        put_str(&mut out, &file.path);
        put_map_header(&mut out, 4);
        put_str(&mut out, "digest");
        put_str(&mut out, &file.digest);
        put_str(&mut out, "mode");
        put_uint(&mut out, if file.executable { 0o755 } else { 0o644 });
        put_str(&mut out, "size");
        put_uint(&mut out, file.size);
        put_str(&mut out, "checkedAt");
        put_uint(&mut out, checked_at);
    }
    out
}

/// pnpm's store directory, in pnpm's order: `--pnpm-store`, `pnpm_config_store_dir`
/// (pnpm 12), `npm_config_store_dir` (pnpm 10), `$PNPM_HOME/store`,
/// `$XDG_DATA_HOME/pnpm/store`, then the platform's default (`~/.local/share/pnpm/store`,
/// `~/Library/pnpm/store`, `%LOCALAPPDATA%/pnpm/store`).
#[must_use]
pub fn default_store_dir(flag: Option<&Path>) -> PathBuf {
    use crate::env_vars::EnvVars;
    let home = || EnvVars::get(EnvVars::HOME).map(PathBuf::from);
    flag.map(Path::to_path_buf)
        .or_else(|| EnvVars::get(EnvVars::PNPM_CONFIG_STORE_DIR).map(PathBuf::from))
        .or_else(|| EnvVars::get(EnvVars::NPM_CONFIG_STORE_DIR).map(PathBuf::from))
        .or_else(|| EnvVars::get(EnvVars::PNPM_HOME).map(|pnpm| Path::new(&pnpm).join("store")))
        .or_else(|| {
            EnvVars::get(EnvVars::XDG_DATA_HOME).map(|data| Path::new(&data).join("pnpm/store"))
        })
        .or_else(|| match std::env::consts::OS {
            "macos" => home().map(|home| home.join("Library/pnpm/store")),
            "windows" => EnvVars::get(EnvVars::LOCALAPPDATA)
                .map(|local| Path::new(&local).join("pnpm/store")),
            _ => home().map(|home| home.join(".local/share/pnpm/store")),
        })
        .unwrap_or_else(|| PathBuf::from(".lading/pnpm-store"))
}

/// Restore `lockfiles` into the pnpm store at `store_dir`, counting them in `summary`.
///
/// # Errors
/// Unusable lockfiles, the first failed or mismatched download, and store write failures
/// (no index row is written then).
pub async fn restore(
    fetcher: &Fetcher,
    registry: &SafeUrl,
    store_dir: &Path,
    lock_dir: &Path,
    lockfiles: &[PathBuf],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut packages: Vec<PnpmPackage> = Vec::new();
    for path in lockfiles {
        let text = fs_err::read_to_string(path)?;
        let (found, notes) = parse(path, &text)?;
        summary.skipped.extend(
            notes
                .into_iter()
                .map(|note| format!("{}: {note}", path.display())),
        );
        packages.extend(found);
    }
    packages.sort_by(|left, right| (&left.name, &left.version).cmp(&(&right.name, &right.version)));
    packages.dedup();
    let store = store_dir.join(STORE_VERSION);
    let store_10 = store_dir.join(STORE_VERSION_10);
    let index_path = store.join("index.db");
    // Rows already in the store need nothing.
    let present: std::collections::BTreeSet<String> = if index_path.is_file() {
        let connection = rusqlite::Connection::open(&index_path)?;
        let mut statement = connection.prepare("SELECT key FROM package_index")?;
        statement
            .query_map([], |row| row.get::<_, String>(0))?
            .filter_map(Result::ok)
            .collect()
    } else {
        std::collections::BTreeSet::new()
    };
    let key = |package: &PnpmPackage| {
        format!(
            "{}\t{}@{}",
            package.integrity, package.name, package.version
        )
    };
    let count = packages.len();
    // Present for both pnpm versions: the v11 row and the v10 index file.
    let missing: Vec<PnpmPackage> = packages
        .into_iter()
        .filter(|package| {
            !present.contains(&key(package))
                || index_path_v10(package).is_some_and(|path| !store_10.join(path).is_file())
        })
        .collect();
    let registry_url = registry.expose().clone();
    let mut tasks = tokio::task::JoinSet::new();
    for package in missing {
        let fetcher = fetcher.clone();
        let url = tarball_url(&registry_url, &package);
        tasks.spawn(async move {
            let spec = format!("{}@{}", package.name, package.version);
            let source = SafeUrl::parse(&url).map_err(|error| {
                RestoreError::Invalid(format!("`{spec}`: bad URL `{url}`: {error}"))
            })?;
            let pinned = Digest::parse_sri(&package.integrity);
            if pinned.is_empty() {
                return Err(RestoreError::Invalid(format!(
                    "`{spec}`: integrity `{}` has no digest lading can check",
                    package.integrity
                )));
            }
            let fetched = fetcher.verified(&spec, &source, &pinned).await?;
            Ok::<_, RestoreError>((package, fetched.blob))
        });
    }
    let verified = crate::fetcher::join_all(tasks).await?;
    let lock_path = lock_dir.join("pnpm-store.lock");
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let _lock =
            crate::fsx::FileLock::acquire(&lock_path).map_err(RestoreError::io(&lock_path))?;
        make_file_dirs(&store)?;
        make_file_dirs(&store_10)?;
        // Unpacking, hashing and writing ~20 files a package: spread over threads.
        let threads = 8;
        let chunk = verified.len().div_ceil(threads).max(1);
        let unpacked: Vec<(&PnpmPackage, Value, Vec<PackageFile>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = verified
                .chunks(chunk)
                .map(|part| {
                    let (store, store_10) = (&store, &store_10);
                    scope.spawn(move || -> Result<Vec<_>, RestoreError> {
                        let temp_prefix = format!(".lading-tmp-{}-", std::process::id());
                        let mut done = Vec::new();
                        for (package, blob) in part {
                            let spec = format!("{}@{}", package.name, package.version);
                            let (mut files, manifest) = read_tarball(&blob.path, &spec)?;
                            for file in &mut files {
                                put_file(store, file, &temp_prefix)?;
                                link_file_v10(store, store_10, file)?;
                                file.data = Vec::new();
                            }
                            done.push((package, manifest, files));
                        }
                        Ok(done)
                    })
                })
                .collect();
            let mut all = Vec::new();
            for handle in handles {
                let part = handle
                    .join()
                    .map_err(|_| RestoreError::Invalid("a store-writing thread panicked".to_owned()))??;
                all.extend(part);
            }
            Ok::<_, RestoreError>(all)
        })?;
        // After every file is written: pnpm re-reads a file whose mtime is later than this.
        let checked_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
            + 1;
        for (package, manifest, files) in &unpacked {
            let Some(relative) = index_path_v10(package) else {
                continue;
            };
            let path = store_10.join(relative);
            if !path.exists() {
                let json = index_json_v10(package, requires_build(manifest, files), files, checked_at);
                crate::fsx::replace_unsynced(&path, &json)?;
            }
        }
        let rows: Vec<(String, Vec<u8>)> = unpacked
            .iter()
            .map(|(package, manifest, files)| (key(package), index_data(manifest, files, checked_at)))
            .collect();
        let mut connection = rusqlite::Connection::open(&index_path)?;
        connection.busy_timeout(std::time::Duration::from_secs(30))?;
        connection.execute(
            "CREATE TABLE IF NOT EXISTS package_index (key TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID",
            [],
        )?;
        let transaction = connection.transaction()?;
        for (key, data) in rows {
            transaction.execute(
                // A row pnpm wrote meanwhile (maybe with side effects) stays.
                "INSERT OR IGNORE INTO package_index (key, data) VALUES (?1, ?2)",
                rusqlite::params![key, data],
            )?;
        }
        transaction.commit()?;
        Ok(())
    })
    .await??;
    summary.packages = count;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockfile_v9_packages_and_what_is_skipped() {
        let text = "lockfileVersion: '9.0'\n\nimporters:\n  .:\n    dependencies:\n      is-number: {specifier: 7.0.0, version: 7.0.0}\n\npackages:\n\n  '@sindresorhus/is@4.6.0':\n    resolution: {integrity: sha512-AAAA}\n    engines: {node: '>=10'}\n\n  is-number@7.0.0:\n    resolution: {integrity: sha512-BBBB}\n\n  thing@https://example.com/thing.tgz:\n    resolution: {tarball: https://example.com/thing.tgz}\n    version: 1.0.0\n\n  tool@git+https://github.com/acme/tool.git#abc:\n    resolution: {commit: abc, repo: https://github.com/acme/tool.git, type: git}\n    version: 1.0.0\n\nsnapshots:\n  is-number@7.0.0: {}\n";
        let (packages, notes) = parse(Path::new("pnpm-lock.yaml"), text).unwrap();
        let found: Vec<(&str, &str, &str)> = packages
            .iter()
            .map(|package| {
                (
                    package.name.as_str(),
                    package.version.as_str(),
                    package.integrity.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("@sindresorhus/is", "4.6.0", "sha512-AAAA"),
                ("is-number", "7.0.0", "sha512-BBBB")
            ]
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes
                .iter()
                .all(|note| note.contains("does not come from the registry"))
        );
        let registry = url::Url::parse("http://r/d/local/npm/main/").unwrap();
        assert_eq!(
            tarball_url(&registry, &packages[0]),
            "http://r/d/local/npm/main/@sindresorhus/is/-/is-4.6.0.tgz"
        );
        assert!(is_current("lockfileVersion: '9.0'\n") && is_current("lockfileVersion: \"6.0\"\n"));
        assert!(!is_current("lockfileVersion: 5.4\n") && !is_current("packages: {}\n"));
        let old = parse(Path::new("pnpm-lock.yaml"), "lockfileVersion: 5.4\n").unwrap_err();
        assert!(old.message.contains("older than pnpm 8"), "{old}");
        let v6 = parse(
            Path::new("pnpm-lock.yaml"),
            "lockfileVersion: '6.0'\npackages:\n  /left-pad@1.3.0(peer@1.0.0):\n    resolution: {integrity: sha512-CCCC}\n",
        )
        .unwrap();
        assert_eq!(v6.0[0].name, "left-pad");
        assert_eq!(v6.0[0].version, "1.3.0");
        let (os, cpu) = crate::ecosystem::npm::node_platform();
        let platforms = format!(
            "lockfileVersion: '9.0'\npackages:\n  here@1.0.0:\n    resolution: {{integrity: sha512-A}}\n    os: [{os}]\n    cpu: [{cpu}]\n  elsewhere@1.0.0:\n    resolution: {{integrity: sha512-B}}\n    os: [plan9]\n  not-here@1.0.0:\n    resolution: {{integrity: sha512-C}}\n    os: ['!{os}']\nsnapshots:\n  here@1.0.0:\n    optional: true\n  elsewhere@1.0.0:\n    optional: true\n  not-here@1.0.0(peer@1.0.0):\n    optional: true\n"
        );
        let (found, notes) = parse(Path::new("pnpm-lock.yaml"), &platforms).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "here");
        assert!(notes.is_empty(), "{notes:?}");
        // Two documents (a `packageManager` project), optional only in `snapshots`, a
        // registry tarball written out (`lockfileIncludeTarballUrl`), a required package
        // for another platform (pnpm installs it anyway).
        let text = "lockfileVersion: '9.0'\nimporters:\n  .: {}\npackages:\n  pnpm@12.4.2:\n    resolution: {integrity: sha512-P}\n---\nlockfileVersion: '9.0'\npackages:\n  esb-plan9@1.0.0:\n    resolution: {integrity: sha512-E}\n    os: [plan9]\n  fsevents@2.3.3:\n    resolution: {integrity: sha512-F}\n    os: [plan9]\n  is-number@7.0.0:\n    resolution: {integrity: sha512-I, tarball: https://registry.npmjs.org/is-number/-/is-number-7.0.0.tgz}\nsnapshots:\n  esb-plan9@1.0.0:\n    optional: true\n  fsevents@2.3.3: {}\n  is-number@7.0.0: {}\n";
        let (found, notes) = parse(Path::new("pnpm-lock.yaml"), text).unwrap();
        let names: Vec<&str> = found.iter().map(|package| package.name.as_str()).collect();
        assert_eq!(names, ["fsevents", "is-number", "pnpm"]);
        assert!(notes.is_empty(), "{notes:?}");
        let missing = parse(
            Path::new("pnpm-lock.yaml"),
            "lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    resolution: {}\n",
        )
        .unwrap_err();
        assert!(
            missing.message.contains("no `resolution.integrity`"),
            "{missing}"
        );
    }

    #[test]
    fn tarballs_keep_root_files_read_a_bom_manifest_and_refuse_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, entries: &[(&str, &[u8], u32)]| {
            let path = dir.path().join(name);
            let file = fs_err::File::create(&path).unwrap();
            let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::fast(),
            ));
            for (entry, data, mode) in entries {
                let mut header = tar::Header::new_gnu();
                header.set_size(data.len() as u64);
                header.set_mode(*mode);
                header.set_entry_type(tar::EntryType::Regular);
                header.as_gnu_mut().unwrap().name[..entry.len()].copy_from_slice(entry.as_bytes());
                header.set_cksum();
                builder.append(&header, *data).unwrap();
            }
            builder.into_inner().unwrap().finish().unwrap();
            path
        };
        let good = write(
            "good.tgz",
            &[
                ("._package", b"x", 0o644),
                (
                    "package/package.json",
                    b"\xef\xbb\xbf{\"name\":\"a\",\"scripts\":{\"install\":\"node-gyp rebuild\"}}",
                    0o644,
                ),
                ("package/bin/run", b"#!/bin/sh\n", 0o755),
            ],
        );
        let (files, manifest) = read_tarball(&good, "a@1.0.0").unwrap();
        let paths: Vec<(&str, bool)> = files
            .iter()
            .map(|file| (file.path.as_str(), file.executable))
            .collect();
        assert_eq!(
            paths,
            [
                ("._package", false),
                ("bin/run", true),
                ("package.json", false)
            ]
        );
        assert_eq!(manifest["name"], "a");
        assert!(requires_build(&manifest, &files));
        let bad = write("bad.tgz", &[("package/../../evil", b"x", 0o644)]);
        let error = read_tarball(&bad, "a@1.0.0").unwrap_err();
        assert!(error.to_string().contains("outside the package"), "{error}");
    }

    #[test]
    fn messagepack_encodes_as_the_spec_says() {
        let mut out = Vec::new();
        put_value(
            &mut out,
            &serde_json::json!({"a": [1, -1, true, null, 1.5], "b": "x".repeat(40), "c": 70000}),
        );
        let mut expected = vec![0x83, 0xa1, b'a', 0x95, 0x01, 0xd3];
        expected.extend_from_slice(&(-1_i64).to_be_bytes());
        expected.extend_from_slice(&[0xc3, 0xc0, 0xcb]);
        expected.extend_from_slice(&1.5_f64.to_be_bytes());
        expected.extend_from_slice(&[0xa1, b'b', 0xd9, 40]);
        expected.extend_from_slice("x".repeat(40).as_bytes());
        expected.extend_from_slice(&[0xa1, b'c', 0xce]);
        expected.extend_from_slice(&70000_u32.to_be_bytes());
        assert_eq!(out, expected);
        let mut out = Vec::new();
        put_map_header(&mut out, 20);
        assert_eq!(out, [0xde, 0, 20]);
        let mut out = Vec::new();
        put_str(&mut out, &"y".repeat(300));
        assert_eq!(out[..3], [0xda, 1, 44]);
    }
}
