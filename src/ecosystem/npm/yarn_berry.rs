//! yarn 2+ (berry) lockfiles (`yarn.lock` with `__metadata:`) restored into yarn's global
//! cache, so `yarn install --immutable` finds every package there and needs no registry
//! (`YARN_ENABLE_NETWORK=0` passes).
//!
//! Berry does not keep registry tarballs: its cache holds one zip per package, which it
//! builds from the tarball (`tgzUtils.convertToZip`: entries under
//! `node_modules/<name>/`, modes reduced to 0644/0755, every time set to 1984-06-22, written
//! by libzip), and the lockfile's `checksum: 10c0/<hex>` is the SHA-512 of that zip, not of
//! the tarball. yarn re-hashes a cache file before it uses it and refuses one that differs.
//! So lading builds the same zip byte for byte ([`cache_zip`]), which is feasible for yarn
//! 4's default `compressionLevel: 0` (cacheKey `10c0`: every entry stored, no deflate to
//! reproduce), and checks two digests:
//!
//! - the tarball against the registry's `dist.integrity` (the lockfile pins no tarball
//!   digest), when it is downloaded;
//! - the zip built from it against the lockfile's `checksum`: a zip that matches holds
//!   exactly the files the lockfile pinned. One that does not (another cacheKey, a tarball
//!   shape lading does not reproduce, or different content) is not placed, and the package
//!   is named in a warning: yarn then fetches it itself.
//!
//! Placed as yarn names files in its global cache (`<slug>-10c0.zip`, the slug being
//! `[@scope-]name-npm-<version>-<locator hash>`), the folder yarn also reads as the mirror
//! of a project-local cache (`enableGlobalCache: false`), so both layouts install offline.
//! Entries that are not registry packages (`workspace:`, `patch:` built from a registry
//! package that is restored, `link:`, `portal:`) need nothing; git, `file:` and other
//! sources are named in a note.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::cacache::{PACKUMENT_ACCEPT, packument_url};
use super::restore::fetch_url;
use crate::cas::{Algorithm, Digest};
use crate::env_vars::EnvVars;
use crate::fetcher::{Fetcher, RestoreError, Summary};
use crate::secret::SafeUrl;

/// The cache key of yarn 4's default cache (cache version 10, `compressionLevel: 0`), the
/// only one whose archives lading builds.
pub const CACHE_KEY: &str = "10c0";

/// Whether `text` is a berry lockfile (YAML with a top-level `__metadata:`).
#[must_use]
pub fn is_berry(text: &str) -> bool {
    text.lines().any(|line| line.trim_end() == "__metadata:")
}

/// Whether a berry lockfile's `__metadata.cacheKey` is [`CACHE_KEY`], the one whose
/// archives lading builds (yarn 3's `8`, or another `compressionLevel`, is not).
#[must_use]
pub fn has_supported_cache_key(text: &str) -> bool {
    text.lines()
        .skip_while(|line| line.trim_end() != "__metadata:")
        .skip(1)
        .take_while(|line| line.starts_with(' '))
        .filter_map(|line| line.trim().strip_prefix("cacheKey:"))
        .any(|key| key.trim().trim_matches('"') == CACHE_KEY)
}

/// One registry package a berry lockfile pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BerryEntry {
    /// The package name (`@scope/name`).
    pub name: String,
    /// Its exact version.
    pub version: String,
    /// The locator's reference (`npm:1.0.0`, with its `::__archiveUrl=…` when present).
    pub reference: String,
    /// The lockfile's checksum: SHA-512 of yarn's cache zip (`None`: the entry has none).
    pub checksum: Option<Digest>,
}

impl BerryEntry {
    /// `name@npm:version`.
    #[must_use]
    pub fn locator(&self) -> String {
        format!("{}@{}", self.name, self.reference)
    }

    /// The file yarn reads from its global cache: `<slug>-10c0.zip`.
    #[must_use]
    pub fn cache_file(&self) -> String {
        format!(
            "{}-{CACHE_KEY}.zip",
            slug(&self.name, &self.reference, &self.version)
        )
    }
}

/// A berry lockfile lading cannot read.
#[derive(Debug, thiserror::Error)]
#[error("`{path}`: {message}")]
pub struct BerryLockError {
    /// The lockfile.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

fn sha512_hex(text: &str) -> String {
    hex::encode(Algorithm::Sha512.hash(text.as_bytes()))
}

/// yarn's `slugifyLocator`: `[@scope-]name-<protocol>-<version>-<first 10 hex of the
/// locator hash>`, where the ident hash is SHA-512 of scope and name concatenated and the
/// locator hash SHA-512 of the ident hash and the reference.
#[must_use]
pub fn slug(name: &str, reference: &str, version: &str) -> String {
    let (scope, bare) = match name.strip_prefix('@').and_then(|rest| rest.split_once('/')) {
        Some((scope, bare)) => (Some(scope), bare),
        None => (None, name),
    };
    let ident_hash = sha512_hex(&format!("{}{bare}", scope.unwrap_or_default()));
    let locator_hash = sha512_hex(&format!("{ident_hash}{reference}"));
    let protocol = reference
        .split_once(':')
        .map_or("exotic", |(protocol, _)| protocol);
    // `semver.valid` drops build metadata.
    let version = version.split('+').next().unwrap_or(version);
    let ident = match scope {
        Some(scope) => format!("@{scope}-{bare}"),
        None => bare.to_owned(),
    };
    format!("{ident}-{protocol}-{version}-{}", &locator_hash[..10])
}

/// Parse a berry lockfile: every registry package, and notes on entries lading leaves to
/// yarn.
///
/// # Errors
/// Not YAML, or an entry without `resolution`.
pub fn parse(path: &Path, text: &str) -> Result<(Vec<BerryEntry>, Vec<String>), BerryLockError> {
    let error = |message: String| BerryLockError {
        path: path.to_path_buf(),
        message,
    };
    let document: BTreeMap<String, serde_yaml::Value> = serde_yaml::from_str(text)
        .map_err(|source| error(format!("not a yarn lockfile: {source}")))?;
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    if let Some(key) = document
        .get("__metadata")
        .and_then(|metadata| metadata.get("cacheKey"))
    {
        let key = match key {
            serde_yaml::Value::Number(number) => number.to_string(),
            serde_yaml::Value::String(text) => text.clone(),
            _ => String::new(),
        };
        if key != CACHE_KEY {
            notes.push(format!(
                "`{}`: cacheKey `{key}`: lading builds only yarn 4's uncompressed cache archives (cacheKey `{CACHE_KEY}`, `compressionLevel: 0`); yarn fetches these packages itself",
                path.display()
            ));
            return Ok((entries, notes));
        }
    }
    for (key, value) in &document {
        if key == "__metadata" {
            continue;
        }
        let resolution = value
            .get("resolution")
            .and_then(serde_yaml::Value::as_str)
            .ok_or_else(|| error(format!("entry `{key}` has no `resolution`")))?;
        let Some((name, reference)) = super::split_at_version(resolution) else {
            return Err(error(format!(
                "entry `{key}`: bad resolution `{resolution}`"
            )));
        };
        let Some(selector) = reference.strip_prefix("npm:") else {
            let protocol = reference
                .split_once(':')
                .map_or("", |(protocol, _)| protocol);
            // Nothing to fetch (a workspace, a link), or built by yarn from a registry
            // package restored here (a patch).
            if !matches!(protocol, "workspace" | "patch" | "link" | "portal") {
                notes.push(format!(
                    "`{resolution}` is not a registry package; yarn fetches it itself"
                ));
            }
            continue;
        };
        let version = selector
            .split_once("::")
            .map_or(selector, |(version, _)| version);
        let checksum = match value.get("checksum").and_then(serde_yaml::Value::as_str) {
            None => None,
            Some(text) => {
                let (cache_key, hex_text) = text.split_once('/').unwrap_or(("", text));
                if cache_key != CACHE_KEY {
                    notes.push(format!(
                        "`{resolution}`: checksum with cacheKey `{cache_key}`: lading builds only `{CACHE_KEY}` archives; yarn fetches it itself"
                    ));
                    continue;
                }
                Some(
                    Digest::from_hex(Algorithm::Sha512, hex_text)
                        .ok_or_else(|| error(format!("entry `{key}`: bad checksum `{text}`")))?,
                )
            }
        };
        entries.push(BerryEntry {
            name: name.to_owned(),
            version: version.to_owned(),
            reference: reference.to_owned(),
            checksum,
        });
    }
    Ok((entries, notes))
}

/// yarn's global folder: `YARN_GLOBAL_FOLDER`, else `%LOCALAPPDATA%/Yarn/Berry` on
/// Windows, `$XDG_DATA_HOME/yarn/berry`, else `~/.yarn/berry`.
#[must_use]
pub fn global_folder() -> PathBuf {
    if let Some(folder) = EnvVars::get(EnvVars::YARN_GLOBAL_FOLDER) {
        return PathBuf::from(folder);
    }
    let home = || EnvVars::get(EnvVars::HOME).map_or_else(|| PathBuf::from("."), PathBuf::from);
    if cfg!(windows) {
        let base = EnvVars::get(EnvVars::LOCALAPPDATA)
            .map_or_else(|| home().join("AppData/Local"), PathBuf::from);
        return base.join("Yarn/Berry");
    }
    if let Some(data) = EnvVars::get(EnvVars::XDG_DATA_HOME) {
        return PathBuf::from(data).join("yarn/berry");
    }
    home().join(".yarn/berry")
}

/// The archive yarn 4 writes for a registry tarball (`tgzUtils.convertToZip` at
/// `compressionLevel: 0`), built as yarn builds it: tar entries in order, the first path
/// component replaced by `node_modules/<name>`, parents created on the way (`mkdirp`),
/// modes 0755 for directories and files with any execute bit, else 0644, symlinks kept,
/// other entry types dropped.
///
/// # Errors
/// An unreadable tarball, or one that unpacks to more than `limit` bytes.
pub fn cache_zip(tarball: &[u8], name: &str, limit: u64) -> Result<Vec<u8>, String> {
    let mut zip = StoredZip::default();
    let prefix = format!("node_modules/{name}");
    let gzipped = tarball.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn std::io::Read> = if gzipped {
        Box::new(flate2::read::GzDecoder::new(tarball))
    } else {
        Box::new(tarball)
    };
    let mut archive = tar::Archive::new(reader);
    let mut total: u64 = 0;
    for entry in archive
        .entries()
        .map_err(|error| format!("not a tarball: {error}"))?
    {
        let mut entry = entry.map_err(|error| format!("bad tar entry: {error}"))?;
        let raw = entry.path_bytes();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        if raw.starts_with('/') || raw.split('/').any(|segment| segment == "..") {
            continue;
        }
        let parts = normalize(&raw);
        if parts.len() <= 1 {
            continue;
        }
        let path = format!("{prefix}/{}", parts[1..].join("/"));
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0);
        let executable = kind.is_dir() || mode & 0o111 != 0;
        let mode = if executable { 0o755 } else { 0o644 };
        let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
        match kind {
            tar::EntryType::Directory => {
                zip.mkdirp(parent);
                zip.mkdirp(&path);
            }
            // `0` and the old `\0` (node-tar's `File` and `OldFile`).
            tar::EntryType::Regular => {
                zip.mkdirp(parent);
                let mut data = Vec::new();
                (&mut entry)
                    .take(limit.saturating_sub(total).saturating_add(1))
                    .read_to_end(&mut data)
                    .map_err(|error| format!("bad tar entry `{raw}`: {error}"))?;
                total += data.len() as u64;
                if total > limit {
                    return Err(format!("it unpacks to more than {limit} bytes"));
                }
                zip.file(&path, data, 0o100_000 | mode, 10);
            }
            tar::EntryType::Symlink => {
                zip.mkdirp(parent);
                let target = entry
                    .link_name_bytes()
                    .map(std::borrow::Cow::into_owned)
                    .unwrap_or_default();
                zip.file(&path, target, 0o120_777, 10);
            }
            _ => {}
        }
    }
    Ok(zip.finish())
}

/// A path as node's `path.posix.normalize` leaves it, split, without a trailing slash.
fn normalize(path: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts
}

/// A zip with every entry stored, as libzip writes yarn's cache files: no extra fields, no
/// data descriptors, "made by" Unix 6.3, DOS time 1984-06-22 21:50:00 (yarn's
/// `SAFE_TIME`), the Unix mode in the external attributes.
#[derive(Default)]
struct StoredZip {
    entries: Vec<ZipEntry>,
    index: HashMap<String, usize>,
}

struct ZipEntry {
    name: String,
    data: Vec<u8>,
    attributes: u32,
    version_needed: u16,
}

/// yarn's `SAFE_TIME` (456789000) as DOS time and date.
const DOS_TIME: u16 = 0xAE40;
const DOS_DATE: u16 = 0x08D6;

impl StoredZip {
    /// Directories down to `path` that are missing, parents first (`mkdirpSync`).
    fn mkdirp(&mut self, path: &str) {
        let mut at = 0;
        while at < path.len() {
            let end = path[at..]
                .find('/')
                .map_or(path.len(), |offset| at + offset);
            let directory = format!("{}/", &path[..end]);
            if !self.index.contains_key(&directory) {
                self.index.insert(directory.clone(), self.entries.len());
                self.entries.push(ZipEntry {
                    name: directory,
                    data: Vec::new(),
                    attributes: 0o040_755,
                    version_needed: 20,
                });
            }
            at = end + 1;
        }
    }

    /// A file (a second one at the same path replaces the first in its place).
    fn file(&mut self, path: &str, data: Vec<u8>, attributes: u32, version_needed: u16) {
        let entry = ZipEntry {
            name: path.to_owned(),
            data,
            attributes,
            version_needed,
        };
        if let Some(&at) = self.index.get(path) {
            self.entries[at] = entry;
        } else {
            self.index.insert(path.to_owned(), self.entries.len());
            self.entries.push(entry);
        }
    }

    fn finish(self) -> Vec<u8> {
        fn u16le(out: &mut Vec<u8>, value: u16) {
            out.extend_from_slice(&value.to_le_bytes());
        }
        fn u32le(out: &mut Vec<u8>, value: u32) {
            out.extend_from_slice(&value.to_le_bytes());
        }
        #[expect(
            clippy::cast_possible_truncation,
            reason = "npm packages stay far below zip64 sizes; a larger one fails the checksum"
        )]
        fn narrow(value: usize) -> u32 {
            value as u32
        }
        let mut out = Vec::new();
        let mut central = Vec::new();
        for entry in &self.entries {
            let mut crc = flate2::Crc::new();
            crc.update(&entry.data);
            let crc = crc.sum();
            let offset = narrow(out.len());
            let size = narrow(entry.data.len());
            let name_length = u16::try_from(entry.name.len()).unwrap_or(u16::MAX);
            u32le(&mut out, 0x0403_4b50);
            u16le(&mut out, entry.version_needed);
            u16le(&mut out, 0); // flags
            u16le(&mut out, 0); // stored
            u16le(&mut out, DOS_TIME);
            u16le(&mut out, DOS_DATE);
            u32le(&mut out, crc);
            u32le(&mut out, size);
            u32le(&mut out, size);
            u16le(&mut out, name_length);
            u16le(&mut out, 0);
            out.extend_from_slice(entry.name.as_bytes());
            out.extend_from_slice(&entry.data);

            u32le(&mut central, 0x0201_4b50);
            u16le(&mut central, 0x033F); // Unix, zip 6.3
            u16le(&mut central, entry.version_needed);
            u16le(&mut central, 0);
            u16le(&mut central, 0);
            u16le(&mut central, DOS_TIME);
            u16le(&mut central, DOS_DATE);
            u32le(&mut central, crc);
            u32le(&mut central, size);
            u32le(&mut central, size);
            u16le(&mut central, name_length);
            u16le(&mut central, 0); // extra
            u16le(&mut central, 0); // comment
            u16le(&mut central, 0); // disk
            u16le(&mut central, 0); // internal attributes
            u32le(&mut central, entry.attributes << 16);
            u32le(&mut central, offset);
            central.extend_from_slice(entry.name.as_bytes());
        }
        let central_offset = narrow(out.len());
        let central_size = narrow(central.len());
        out.extend_from_slice(&central);
        let count = u16::try_from(self.entries.len()).unwrap_or(u16::MAX);
        u32le(&mut out, 0x0605_4b50);
        u16le(&mut out, 0);
        u16le(&mut out, 0);
        u16le(&mut out, count);
        u16le(&mut out, count);
        u32le(&mut out, central_size);
        u32le(&mut out, central_offset);
        u16le(&mut out, 0);
        out
    }
}

/// The registry's pin for one version: its `dist.integrity` (else `dist.shasum`) and
/// tarball URL.
fn registry_pin(
    packument: &Value,
    entry: &BerryEntry,
) -> Result<(Vec<Digest>, String), RestoreError> {
    let dist = &packument["versions"][&entry.version]["dist"];
    if dist.is_null() {
        return Err(RestoreError::Invalid(format!(
            "`{}` is not in the registry's packument",
            entry.locator()
        )));
    }
    let mut pinned = dist["integrity"]
        .as_str()
        .map(Digest::parse_sri)
        .unwrap_or_default();
    if pinned.is_empty()
        && let Some(shasum) = dist["shasum"].as_str()
    {
        pinned.extend(Digest::from_hex(Algorithm::Sha1, shasum));
    }
    let tarball = dist["tarball"].as_str().unwrap_or_default().to_owned();
    if pinned.is_empty() || tarball.is_empty() {
        return Err(RestoreError::Invalid(format!(
            "the registry gives no tarball with an integrity for `{}`",
            entry.locator()
        )));
    }
    Ok((pinned, tarball))
}

fn parse_url(text: &str, what: &str) -> Result<SafeUrl, RestoreError> {
    SafeUrl::parse(text)
        .map_err(|error| RestoreError::Invalid(format!("`{what}`: bad URL `{text}`: {error}")))
}

/// What one entry came to: its archive in the store, or why it was left to yarn.
enum Outcome {
    Placed(String, crate::cas::Blob),
    Left(String),
}

/// Restore berry `lockfiles` into yarn's global cache `cache` (`<global folder>/cache`).
///
/// # Errors
/// An unreadable lockfile, a download that failed or did not verify against the registry's
/// integrity; nothing is placed then.
pub async fn restore(
    fetcher: &Fetcher,
    registry: &SafeUrl,
    cache: &Path,
    lockfiles: &[PathBuf],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut wanted: BTreeMap<String, BerryEntry> = BTreeMap::new();
    for path in lockfiles {
        let text = fs_err::read_to_string(path)?;
        let (entries, notes) = parse(path, &text)?;
        summary.skipped.extend(notes);
        for entry in entries {
            wanted.insert(entry.cache_file(), entry);
        }
    }
    let registry_url = registry.expose().clone();
    // Packuments only for what the store does not hold already.
    let names: BTreeSet<String> = wanted
        .values()
        .filter(|entry| {
            entry
                .checksum
                .as_ref()
                .is_none_or(|checksum| fetcher.store().find(checksum).is_none())
        })
        .map(|entry| entry.name.clone())
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for name in names {
        let fetcher = fetcher.clone();
        let url = packument_url(&registry_url, &name);
        tasks.spawn(async move {
            let safe = parse_url(&url, &name)?;
            let document = fetcher
                .document(&name, &safe, Some(PACKUMENT_ACCEPT), true)
                .await?;
            let parsed: Value = serde_json::from_slice(&document.body).map_err(|error| {
                RestoreError::Invalid(format!(
                    "the packument of `{name}` at {safe} is not JSON: {error}"
                ))
            })?;
            Ok::<_, RestoreError>((name, Arc::new(parsed)))
        });
    }
    let packuments: BTreeMap<String, Arc<Value>> =
        crate::fetcher::join_all(tasks).await?.into_iter().collect();

    let limit = EnvVars::get(EnvVars::LADING_RESTORE_MAX_UNPACKED_BYTES)
        .and_then(|text| text.trim().parse::<u64>().ok())
        .unwrap_or(1 << 30);
    let mut tasks = tokio::task::JoinSet::new();
    for (file, entry) in wanted {
        let fetcher = fetcher.clone();
        let packument = packuments.get(&entry.name).cloned();
        let registry_url = registry_url.clone();
        tasks.spawn(async move {
            let locator = entry.locator();
            if let Some(checksum) = &entry.checksum
                && let Some(fetched) = fetcher.stored(std::slice::from_ref(checksum))
            {
                return Ok(Outcome::Placed(file, fetched.blob));
            }
            let Some(packument) = packument else {
                return Err(RestoreError::Invalid(format!(
                    "no packument for `{locator}`"
                )));
            };
            let (pinned, tarball) = registry_pin(&packument, &entry)?;
            let source = parse_url(&fetch_url(&tarball, &entry.name, &registry_url), &locator)?;
            let fetched = fetcher.verified(&locator, &source, &pinned).await?;
            let name = entry.name.clone();
            let zip = tokio::task::spawn_blocking(move || {
                let tarball = fs_err::read(&fetched.blob.path)?;
                Ok::<_, std::io::Error>(cache_zip(&tarball, &name, limit))
            })
            .await?
            .map_err(RestoreError::io(fetcher.store().root()))?;
            let zip = match zip {
                Ok(zip) => zip,
                Err(why) => return Ok(Outcome::Left(format!("`{locator}`: {why}; not placed"))),
            };
            let built = Digest::of(Algorithm::Sha512, &zip);
            if let Some(checksum) = &entry.checksum
                && *checksum != built
            {
                return Ok(Outcome::Left(format!(
                    "`{locator}`: the cache archive built from the registry's tarball (verified against its integrity) does not match the lockfile's checksum (sha512 {} instead of {}); not placed, yarn fetches it itself",
                    built.hex(),
                    checksum.hex()
                )));
            }
            let blob = fetcher
                .store()
                .insert(&zip, &[built])
                .map_err(RestoreError::io(fetcher.store().root()))?;
            Ok(Outcome::Placed(file, blob))
        });
    }
    let outcomes = crate::fetcher::join_all(tasks).await?;
    fs_err::create_dir_all(cache)?;
    for outcome in outcomes {
        match outcome {
            Outcome::Placed(file, blob) => {
                let target = cache.join(&file);
                if !target.exists() {
                    crate::cas::link_or_copy(&blob.path, &target)?;
                }
                summary.packages += 1;
            }
            Outcome::Left(why) => summary.skipped.push(why),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_yarn() {
        // As yarn 4.18.1 named them in its global cache.
        assert_eq!(
            slug("@sindresorhus/is", "npm:4.6.0", "4.6.0"),
            "@sindresorhus-is-npm-4.6.0-7cad05c55e"
        );
        assert_eq!(
            slug("which", "npm:2.0.2", "2.0.2"),
            "which-npm-2.0.2-320ddf72f7"
        );
    }

    #[test]
    fn entries_and_notes() {
        let lock = r#"# This file is generated by running "yarn install" inside your project.

__metadata:
  version: 10
  cacheKey: 10c0

"is-number@npm:7.0.0":
  version: 7.0.0
  resolution: "is-number@npm:7.0.0"
  checksum: 10c0/b4686d0d3053146095ccd45346461bc8e53b80aeb7671cc52a4de02dbbf7dc0d1d2a986e2fe4ae206984b4d34ef37e8b795ebc4f4295c978373e6575e295d811
  languageName: node
  linkType: hard

"t@workspace:.":
  version: 0.0.0-use.local
  resolution: "t@workspace:."
  languageName: unknown
  linkType: soft

"tool@git+https://example.com/tool.git#commit=abc":
  version: 1.0.0
  resolution: "tool@git+https://example.com/tool.git#commit=abc"
  languageName: node
  linkType: hard
"#;
        assert!(is_berry(lock));
        assert!(has_supported_cache_key(lock));
        assert!(!has_supported_cache_key(&lock.replace("10c0\n", "8\n")));
        let (entries, notes) = parse(Path::new("yarn.lock"), lock).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].locator(), "is-number@npm:7.0.0");
        assert_eq!(
            entries[0].cache_file(),
            "is-number-npm-7.0.0-060086935c-10c0.zip"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("tool@git+"), "{notes:?}");
        let old = lock.replace("cacheKey: 10c0", "cacheKey: 8");
        let (entries, notes) = parse(Path::new("yarn.lock"), &old).unwrap();
        assert!(entries.is_empty());
        assert!(notes[0].contains("cacheKey `8`"), "{notes:?}");
    }
}
