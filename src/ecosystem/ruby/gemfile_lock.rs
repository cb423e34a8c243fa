//! `Gemfile.lock` restored into Bundler's gem cache (`vendor/cache` beside the lockfile, or
//! `--bundle-cache`), so `bundle install --local` installs with no gem server.
//!
//! Every gem of a `GEM` section (`    name (version[-platform])`) is fetched from the
//! configured repository, not the lockfile's `remote:` (as npm's `resolved` is rewritten),
//! as `gems/<name>-<version>[-platform].gem`, and verified against a SHA-256: the lockfile's
//! own `CHECKSUMS` section (Bundler 2.5+) when it has one for the gem, else the `checksum:`
//! of the gem's line in the server's compact index (`info/<name>`), which is what Bundler
//! itself checks a download against. Gems from `GIT` and `PATH` sections are left to
//! Bundler and named in a note. Nothing is placed until every download verified.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::cas::{Algorithm, Digest};
use crate::fetcher::{Fetcher, RestoreError, Summary};
use crate::secret::SafeUrl;

/// The file name Bundler writes.
pub const FILE_NAME: &str = "Gemfile.lock";

/// One gem a `Gemfile.lock` pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedGem {
    /// The gem's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its platform, for a platform gem (`x86_64-linux`).
    pub platform: Option<String>,
    /// The SHA-256 the lockfile's `CHECKSUMS` section gives it.
    pub checksum: Option<Digest>,
    /// `file:line` of the spec.
    pub origin: String,
}

impl LockedGem {
    /// `name-version[-platform]`: the `.gem` file's stem and its compact-index version.
    #[must_use]
    pub fn full_name(&self) -> String {
        format!("{}-{}", self.name, self.version_and_platform())
    }

    /// `version[-platform]`, as the compact index writes it.
    #[must_use]
    pub fn version_and_platform(&self) -> String {
        match &self.platform {
            Some(platform) => format!("{}-{platform}", self.version),
            None => self.version.clone(),
        }
    }
}

/// A `Gemfile.lock` lading cannot use.
#[derive(Debug, thiserror::Error)]
#[error("`{origin}`: {message}")]
pub struct GemfileLockError {
    /// `file:line`.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

/// `name (version[-platform])` → name, version, platform.
fn spec(text: &str) -> Option<(String, String, Option<String>)> {
    let (name, rest) = text.trim().split_once(" (")?;
    let inside = rest.strip_suffix(')')?;
    let (version, platform) = match inside.split_once('-') {
        Some((version, platform)) => (version, Some(platform.to_owned())),
        None => (inside, None),
    };
    if name.is_empty() || version.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    Some((name.to_owned(), version.to_owned(), platform))
}

/// Parse a `Gemfile.lock`: the gems of its `GEM` sections, and notes on gems from other
/// sources.
///
/// # Errors
/// A `CHECKSUMS` entry that is not `sha256=<hex>`, naming file and line.
pub fn parse(path: &Path, text: &str) -> Result<(Vec<LockedGem>, Vec<String>), GemfileLockError> {
    let mut gems = Vec::new();
    let mut notes = Vec::new();
    let mut checksums: BTreeMap<String, Digest> = BTreeMap::new();
    let mut section = "";
    for (index, line) in text.lines().enumerate() {
        let origin = format!("{}:{}", path.display(), index + 1);
        if !line.starts_with(' ') && !line.trim().is_empty() {
            section = line.trim();
            continue;
        }
        match section {
            // Specs are indented four spaces; their dependencies six.
            "GEM" | "GIT" | "PATH" | "PLUGIN SOURCE" => {
                let Some(text) = line.strip_prefix("    ") else {
                    continue;
                };
                if text.starts_with(' ') {
                    continue;
                }
                let Some((name, version, platform)) = spec(text) else {
                    continue;
                };
                if section == "GEM" {
                    gems.push(LockedGem {
                        name,
                        version,
                        platform,
                        checksum: None,
                        origin,
                    });
                } else {
                    notes.push(format!(
                        "{origin}: `{name} ({version})` comes from a {} source, not a gem server; bundler installs it",
                        section.to_ascii_lowercase()
                    ));
                }
            }
            "CHECKSUMS" => {
                let text = line.trim();
                let Some(close) = text.find(')') else {
                    continue;
                };
                let (key, sums) = text.split_at(close + 1);
                for sum in sums.trim().split(',').filter(|sum| !sum.is_empty()) {
                    let Some(hex_text) = sum.strip_prefix("sha256=") else {
                        continue;
                    };
                    let digest =
                        Digest::from_hex(Algorithm::Sha256, hex_text).ok_or_else(|| {
                            GemfileLockError {
                                origin: origin.clone(),
                                message: format!("`{sum}` is not `sha256=<hex>`"),
                            }
                        })?;
                    checksums.insert(key.to_owned(), digest);
                }
            }
            _ => {}
        }
    }
    for gem in &mut gems {
        let key = format!("{} ({})", gem.name, gem.version_and_platform());
        gem.checksum = checksums.get(&key).cloned();
    }
    Ok((gems, notes))
}

/// The `checksum:` of `version` (`1.0.0` or `1.0.0-x86_64-linux`) in a compact-index
/// `info/<gem>` file: lines `version[ deps]|checksum:<hex>,ruby:…` after `---`.
#[must_use]
pub fn info_checksum(info: &str, version: &str) -> Option<Digest> {
    info.lines().find_map(|line| {
        let (head, requirements) = line.split_once('|')?;
        let listed = head.split_once(' ').map_or(head, |(listed, _)| listed);
        if listed != version {
            return None;
        }
        requirements
            .split(',')
            .find_map(|requirement| requirement.strip_prefix("checksum:"))
            .and_then(|hex_text| Digest::from_hex(Algorithm::Sha256, hex_text.trim()))
    })
}

fn join(base: &url::Url, path: &str) -> String {
    let base = base.as_str();
    let separator = if base.ends_with('/') { "" } else { "/" };
    format!("{base}{separator}{path}")
}

fn parse_url(text: &str, what: &str) -> Result<SafeUrl, RestoreError> {
    SafeUrl::parse(text)
        .map_err(|error| RestoreError::Invalid(format!("`{what}`: bad URL `{text}`: {error}")))
}

/// Restore `lockfiles` from the gem server at `registry` into `cache` (`None`: each
/// lockfile's own `vendor/cache`).
///
/// # Errors
/// An unreadable lockfile, a gem the server's compact index does not list, a download that
/// failed or did not verify; nothing is placed then.
pub async fn restore(
    fetcher: &Fetcher,
    registry: &SafeUrl,
    cache: Option<&Path>,
    lockfiles: &[PathBuf],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    // Target directory → gems to place there.
    let mut wanted: BTreeMap<PathBuf, BTreeMap<String, LockedGem>> = BTreeMap::new();
    for path in lockfiles {
        let text = fs_err::read_to_string(path)?;
        let (gems, notes) = parse(path, &text)?;
        summary.skipped.extend(notes);
        let target = cache.map_or_else(
            || {
                path.parent()
                    .unwrap_or_else(|| Path::new("."))
                    .join("vendor/cache")
            },
            Path::to_path_buf,
        );
        let place = wanted.entry(target).or_default();
        for gem in gems {
            place.insert(gem.full_name(), gem);
        }
    }
    if let Some(first) = wanted.keys().next() {
        summary.destination.clone_from(first);
    }
    let registry_url = registry.expose().clone();
    // Compact-index pages for the gems the lockfile pins no checksum for.
    let names: BTreeSet<String> = wanted
        .values()
        .flat_map(BTreeMap::values)
        .filter(|gem| gem.checksum.is_none())
        .map(|gem| gem.name.clone())
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for name in names {
        let fetcher = fetcher.clone();
        let url = join(&registry_url, &format!("info/{name}"));
        tasks.spawn(async move {
            let safe = parse_url(&url, &name)?;
            let document = fetcher.document(&name, &safe, None, true).await?;
            Ok::<_, RestoreError>((name, String::from_utf8_lossy(&document.body).into_owned()))
        });
    }
    let infos: BTreeMap<String, String> =
        crate::fetcher::join_all(tasks).await?.into_iter().collect();

    let mut tasks = tokio::task::JoinSet::new();
    for (target, gems) in &wanted {
        for (full_name, gem) in gems {
            let pinned = match &gem.checksum {
                Some(checksum) => checksum.clone(),
                None => infos
                    .get(&gem.name)
                    .and_then(|info| info_checksum(info, &gem.version_and_platform()))
                    .ok_or_else(|| {
                        RestoreError::Invalid(format!(
                            "{}: `{full_name}` has no checksum in the lockfile, and the server's compact index (`info/{}`) lists none for it",
                            gem.origin, gem.name
                        ))
                    })?,
            };
            let fetcher = fetcher.clone();
            let url = join(&registry_url, &format!("gems/{full_name}.gem"));
            let file = target.join(format!("{full_name}.gem"));
            let full_name = full_name.clone();
            tasks.spawn(async move {
                let source = parse_url(&url, &full_name)?;
                let fetched = fetcher
                    .verified(&full_name, &source, std::slice::from_ref(&pinned))
                    .await?;
                Ok::<_, RestoreError>((file, fetched.blob))
            });
        }
    }
    let placed = crate::fetcher::join_all(tasks).await?;
    for (file, blob) in &placed {
        if let Some(parent) = file.parent() {
            fs_err::create_dir_all(parent)?;
        }
        crate::cas::link_or_copy(&blob.path, file)?;
    }
    summary.packages = placed.len();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RACK: &str = "5b8b5bdd1ca68bae8d1de8b8ebfd8ad6b5fbdd6ee8c6d8a8a9d1e2d8e3c4f5a6";

    #[test]
    fn gems_checksums_and_other_sources() {
        let text = format!(
            "GIT\n  remote: https://example.com/tool.git\n  revision: abc\n  specs:\n    tool (1.0.0)\n\nGEM\n  remote: https://rubygems.org/\n  specs:\n    nokogiri (1.16.0-x86_64-linux)\n      racc (~> 1.4)\n    racc (1.7.3)\n    rack (3.0.8)\n\nPLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  nokogiri\n  rack\n\nCHECKSUMS\n  nokogiri (1.16.0-x86_64-linux)\n  racc (1.7.3)\n  rack (3.0.8) sha256={RACK}\n\nBUNDLED WITH\n   2.5.3\n"
        );
        let (gems, notes) = parse(Path::new("Gemfile.lock"), &text).unwrap();
        let found: Vec<_> = gems
            .iter()
            .map(|gem| (gem.full_name(), gem.checksum.is_some(), gem.origin.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "nokogiri-1.16.0-x86_64-linux".to_owned(),
                    false,
                    "Gemfile.lock:10"
                ),
                ("racc-1.7.3".to_owned(), false, "Gemfile.lock:12"),
                ("rack-3.0.8".to_owned(), true, "Gemfile.lock:13"),
            ]
        );
        assert_eq!(gems[2].checksum.as_ref().unwrap().hex(), RACK);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("`tool (1.0.0)` comes from a git source"));
    }

    #[test]
    fn compact_index_checksums_by_version_and_platform() {
        let info = format!(
            "---\n1.0.0 |checksum:{RACK}\n1.1.0 rack:>= 1.0&< 3|checksum:{}\n1.1.0-java |checksum:{},ruby:>= 2.5\n",
            "a".repeat(64),
            "b".repeat(64)
        );
        assert_eq!(info_checksum(&info, "1.0.0").unwrap().hex(), RACK);
        assert_eq!(info_checksum(&info, "1.1.0").unwrap().hex(), "a".repeat(64));
        assert_eq!(
            info_checksum(&info, "1.1.0-java").unwrap().hex(),
            "b".repeat(64)
        );
        assert!(info_checksum(&info, "2.0.0").is_none());
    }
}
