//! yarn 1 lockfiles (`# yarn lockfile v1`) restored into an offline mirror: the directory
//! yarn 1 reads tarballs from before the network (`yarn-offline-mirror`, which the variable
//! `YARN_YARN_OFFLINE_MIRROR` sets), so `yarn install --offline --frozen-lockfile` needs no
//! registry.
//!
//! Each entry's tarball is fetched from the configured registry (a lockfile written against
//! another registry is rewritten to it, as for npm), verified against the entry's
//! `integrity` (or the `#sha1` of its `resolved` URL when the entry is older than
//! integrity), and placed under the file name yarn itself looks for, derived from
//! `resolved` as yarn 1.22 derives it. Nothing is placed until every download verified.

use std::collections::BTreeMap;
use std::path::Path;

use super::lockfile::LockedPackage;
use super::restore::fetch_url;
use crate::cas::{Algorithm, Digest};
use crate::fetcher::{Fetcher, RestoreError, Summary};
use crate::secret::SafeUrl;

/// The first line yarn 1 writes after its header comment.
const V1_MARKER: &str = "# yarn lockfile v1";

/// Whether `text` is a yarn 1 lockfile (a yarn 2+ lockfile is YAML with `__metadata:`).
#[must_use]
pub fn is_v1(text: &str) -> bool {
    text.lines().take(5).any(|line| line.trim() == V1_MARKER) && !text.contains("\n__metadata:")
}

/// One registry tarball a yarn 1 lockfile pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YarnEntry {
    /// The package as restore fetches it: real name (an alias `foo@npm:bar@1` gives
    /// `bar`), version, `resolved` without its fragment, `integrity`.
    pub package: LockedPackage,
    /// The `#<sha1 hex>` of `resolved`, checked when there is no `integrity`.
    pub sha1: Option<String>,
    /// The file yarn reads from the offline mirror.
    pub mirror_file: String,
    /// `file:line` of the entry.
    pub origin: String,
}

/// A yarn lockfile lading cannot use.
#[derive(Debug, thiserror::Error)]
#[error("`{origin}`: {message}")]
pub struct YarnLockError {
    /// `file:line`.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

/// A value as yarn writes it: `"quoted"` (JSON escapes) or bare.
fn unquote(text: &str) -> String {
    let text = text.trim();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text).unwrap_or_else(|_| text.trim_matches('"').to_owned())
    } else {
        text.to_owned()
    }
}

/// The package name of a lockfile key `name@range` (`@scope/name@range`, or the real name
/// of an alias `alias@npm:real@range`).
fn key_name(key: &str) -> Option<String> {
    let (name, range) = super::split_at_version(key)?;
    if let Some(real) = range.strip_prefix("npm:") {
        let real = super::split_at_version(real).map_or(real, |(real, _)| real);
        return (!real.is_empty()).then(|| real.to_owned());
    }
    Some(name.to_owned())
}

/// The file name yarn 1.22 gives a tarball in the offline mirror
/// (`TarballFetcher.getTarballMirrorPath`): `[@scope-]<basename>` when the URL path ends in
/// `<name>/-/<basename>` (or `_attachments`), else the path's basename.
#[must_use]
pub fn mirror_file_name(resolved: &str) -> Option<String> {
    let url = url::Url::parse(resolved).ok()?;
    let segments: Vec<&str> = url.path().split('/').collect();
    let basename = *segments.last()?;
    if basename.is_empty() {
        return None;
    }
    let count = segments.len();
    let separator_at = |index: usize| {
        segments
            .get(index)
            .is_some_and(|segment| *segment == "-" || *segment == "_attachments")
    };
    // `/-/` right before the basename, or `/-/@x/` (the regex's optional scope segment).
    let separator = if count >= 3 && separator_at(count - 2) {
        Some(count - 2)
    } else if count >= 4 && segments[count - 2].starts_with('@') && separator_at(count - 3) {
        Some(count - 3)
    } else {
        None
    };
    let scope = separator.and_then(|separator| {
        let name = segments.get(separator.checked_sub(1)?)?;
        if name.is_empty() {
            return None;
        }
        if let Some((scope, rest)) = name.split_once("%2f")
            && scope.len() > 1
            && scope.starts_with('@')
            && !rest.is_empty()
        {
            return Some(Some(scope.to_owned()));
        }
        let before = separator
            .checked_sub(2)
            .and_then(|index| segments.get(index));
        Some(
            before
                .filter(|segment| segment.len() > 1 && segment.starts_with('@'))
                .map(|segment| (*segment).to_owned()),
        )
    });
    Some(match scope {
        Some(Some(scope)) => format!("{scope}-{basename}"),
        _ => basename.to_owned(),
    })
}

/// Parse a yarn 1 lockfile: every entry with a registry `resolved`; entries from elsewhere
/// (`file:`, git) are returned as notes.
///
/// # Errors
/// A yarn 2+ lockfile, an entry without `version`, or a registry entry with neither
/// `integrity` nor a `#sha1` to verify it with, naming file and line.
pub fn parse(path: &Path, text: &str) -> Result<(Vec<YarnEntry>, Vec<String>), YarnLockError> {
    if !is_v1(text) {
        return Err(YarnLockError {
            origin: path.display().to_string(),
            message: "only yarn 1 lockfiles (`# yarn lockfile v1`) are supported; yarn 2+ (berry) keeps its own zip cache: run `yarn install --immutable` against the repository".to_owned(),
        });
    }
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    // (line, first key, fields)
    let mut current: Option<(usize, String, BTreeMap<String, String>)> = None;
    let finish = |current: Option<(usize, String, BTreeMap<String, String>)>,
                  entries: &mut Vec<YarnEntry>,
                  notes: &mut Vec<String>|
     -> Result<(), YarnLockError> {
        let Some((line, key, fields)) = current else {
            return Ok(());
        };
        let origin = format!("{}:{line}", path.display());
        let error = |message: String| YarnLockError {
            origin: origin.clone(),
            message,
        };
        let version = fields
            .get("version")
            .ok_or_else(|| error(format!("`{key}` has no `version`")))?;
        let Some(resolved) = fields.get("resolved") else {
            notes.push(format!(
                "{origin}: `{key}` has no `resolved`; yarn resolves it"
            ));
            return Ok(());
        };
        if resolved.starts_with("file:") || resolved.starts_with("link:") {
            // A local path: yarn installs it from the disk, offline or not.
            return Ok(());
        }
        let (url, fragment) = resolved
            .split_once('#')
            .map_or((resolved.as_str(), None), |(url, fragment)| {
                (url, Some(fragment))
            });
        let registry_like = (url.starts_with("https://") || url.starts_with("http://"))
            && (url.contains("/-/") || url.contains("/_attachments/"))
            && !url.contains("codeload.github.com");
        let mirror_file = mirror_file_name(url).filter(|_| registry_like);
        let Some(mirror_file) = mirror_file else {
            notes.push(format!(
                "{origin}: `{key}` comes from `{resolved}`, not a registry tarball; not restored, so `yarn install --offline` cannot install it"
            ));
            return Ok(());
        };
        let Some(name) = key_name(&key) else {
            return Err(error(format!("`{key}` is not `name@range`")));
        };
        let integrity = fields.get("integrity").cloned();
        let sha1 = fragment
            .filter(|hex| Digest::from_hex(Algorithm::Sha1, hex).is_some())
            .map(str::to_owned);
        if integrity.is_none() && sha1.is_none() {
            notes.push(format!(
                "{origin}: `{key}` has neither `integrity` nor a `#sha1` in `resolved`; it cannot be verified, so it is not restored"
            ));
            return Ok(());
        }
        entries.push(YarnEntry {
            package: LockedPackage {
                name,
                version: version.clone(),
                resolved: Some(url.to_owned()),
                integrity,
            },
            sha1,
            mirror_file,
            origin,
        });
        Ok(())
    };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            finish(current.take(), &mut entries, &mut notes)?;
            let keys = line
                .trim_end()
                .strip_suffix(':')
                .ok_or_else(|| YarnLockError {
                    origin: format!("{}:{}", path.display(), index + 1),
                    message: format!("expected `key:` to start an entry, found `{line}`"),
                })?;
            let first = keys.split(", ").next().unwrap_or(keys);
            current = Some((index + 1, unquote(first), BTreeMap::new()));
        } else if indent == 2
            && let Some((_, _, fields)) = current.as_mut()
        {
            let body = line.trim();
            let (key, value) = if let Some(quoted) = body.strip_prefix('"') {
                let end = quoted.find('"').map_or(body.len(), |at| at + 2);
                (unquote(&body[..end]), body[end..].trim())
            } else {
                body.split_once(' ')
                    .map_or((body.to_owned(), ""), |(key, value)| {
                        (key.to_owned(), value)
                    })
            };
            if !value.is_empty() {
                fields.insert(key, unquote(value));
            }
        }
    }
    finish(current.take(), &mut entries, &mut notes)?;
    Ok((entries, notes))
}

/// Restore the entries of `lockfiles` into the offline mirror `mirror`, counting the
/// tarballs in `summary`.
///
/// # Errors
/// Unusable lockfiles, and the first failed or mismatched download (nothing placed then).
pub async fn restore(
    fetcher: &Fetcher,
    registry: &SafeUrl,
    mirror: &Path,
    lockfiles: &[std::path::PathBuf],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut wanted: BTreeMap<String, YarnEntry> = BTreeMap::new();
    for path in lockfiles {
        let text = fs_err::read_to_string(path)?;
        let (entries, notes) = parse(path, &text)?;
        summary.skipped.extend(notes);
        for entry in entries {
            if let Some(known) = wanted.get(&entry.mirror_file) {
                let pins =
                    |entry: &YarnEntry| (entry.package.integrity.clone(), entry.sha1.clone());
                if pins(known) != pins(&entry)
                    && known.package.integrity.is_some()
                    && entry.package.integrity.is_some()
                {
                    anyhow::bail!(
                        "`{}` and `{}` both need the mirror file `{}` with different integrity; yarn would fail one of them",
                        known.origin,
                        entry.origin,
                        entry.mirror_file
                    );
                }
                continue;
            }
            wanted.insert(entry.mirror_file.clone(), entry);
        }
    }
    let registry_url = registry.expose().clone();
    let mut tasks = tokio::task::JoinSet::new();
    for (file, entry) in wanted {
        let fetcher = fetcher.clone();
        let registry_url = registry_url.clone();
        tasks.spawn(async move {
            let spec = entry.package.spec();
            let resolved = entry.package.resolved.clone().unwrap_or_default();
            let source = fetch_url(&resolved, &entry.package.name, &registry_url);
            let source = SafeUrl::parse(&source).map_err(|error| {
                RestoreError::Invalid(format!("`{}`: bad URL `{source}`: {error}", entry.origin))
            })?;
            // Strongest first: the store is looked up by the first.
            let mut pinned =
                Digest::parse_sri(entry.package.integrity.as_deref().unwrap_or_default());
            if pinned.is_empty()
                && let Some(sha1) = entry
                    .sha1
                    .as_deref()
                    .and_then(|hex| Digest::from_hex(Algorithm::Sha1, hex))
            {
                pinned.push(sha1);
            }
            if pinned.is_empty() {
                return Err(RestoreError::Invalid(format!(
                    "`{}`: `{spec}` has an integrity lading cannot check ({})",
                    entry.origin,
                    entry.package.integrity.unwrap_or_default()
                )));
            }
            let fetched = fetcher.verified(&spec, &source, &pinned).await?;
            Ok::<_, RestoreError>((file, fetched.blob))
        });
    }
    let placed = crate::fetcher::join_all(tasks).await?;
    let count = placed.len();
    for (file, blob) in placed {
        if file.is_empty() || file.starts_with('.') || file.contains(['/', '\\', '\0']) {
            anyhow::bail!("`{file}` is not a file name yarn's mirror can hold");
        }
        crate::cas::link_or_copy(&blob.path, &mirror.join(&file))?;
    }
    summary.packages = count;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As yarn 1.22.22 wrote it, plus an alias, a git dependency and a pre-integrity entry.
    const LOCK: &str = r#"# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@sindresorhus/is@4.6.0", "@sindresorhus/is@^4.0.0":
  version "4.6.0"
  resolved "https://registry.yarnpkg.com/@sindresorhus/is/-/is-4.6.0.tgz#3c7c9c46e678feefe7a2e5bb609d3dbd665ffb3f"
  integrity sha512-t09vSN3MdfsyCHoFcTRCH/iUtG7OJ0CsjzB8cjAmKc/va/kIgeDI/TxsigdncE/4be734m0cvIYwNaV4i2XqAw==
  dependencies:
    is-number "^7.0.0"

is-number@7.0.0:
  version "7.0.0"
  resolved "https://registry.yarnpkg.com/is-number/-/is-number-7.0.0.tgz#7535345b896734d5f80c4d06c50955527a14f12b"

my-number@npm:is-number@7.0.0:
  version "7.0.0"
  resolved "https://registry.yarnpkg.com/is-number/-/is-number-7.0.0.tgz#7535345b896734d5f80c4d06c50955527a14f12b"
  integrity sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDlK9cGvNp6NZWZUBlbGXYxxng==

"tool@github:acme/tool":
  version "1.0.0"
  resolved "https://codeload.github.com/acme/tool/tar.gz/0123456789abcdef"
"#;

    #[test]
    fn entries_names_digests_and_mirror_files() {
        let (entries, notes) = parse(Path::new("yarn.lock"), LOCK).unwrap();
        let found: Vec<(&str, &str, &str, &str)> = entries
            .iter()
            .map(|entry| {
                (
                    entry.package.name.as_str(),
                    entry.package.version.as_str(),
                    entry.mirror_file.as_str(),
                    entry.origin.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    "@sindresorhus/is",
                    "4.6.0",
                    "@sindresorhus-is-4.6.0.tgz",
                    "yarn.lock:5"
                ),
                ("is-number", "7.0.0", "is-number-7.0.0.tgz", "yarn.lock:12"),
                ("is-number", "7.0.0", "is-number-7.0.0.tgz", "yarn.lock:16")
            ]
        );
        assert_eq!(
            entries[0].package.resolved.as_deref(),
            Some("https://registry.yarnpkg.com/@sindresorhus/is/-/is-4.6.0.tgz")
        );
        assert!(entries[1].package.integrity.is_none());
        assert_eq!(
            entries[1].sha1.as_deref(),
            Some("7535345b896734d5f80c4d06c50955527a14f12b")
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("yarn.lock:21") && notes[0].contains("not a registry"),
            "{notes:?}"
        );
    }

    #[test]
    fn mirror_names_follow_yarn() {
        for (url, expected) in [
            (
                "https://r/@scope/name/-/name-1.0.0.tgz",
                "@scope-name-1.0.0.tgz",
            ),
            (
                "https://r/@scope%2fname/-/name-1.0.0.tgz",
                "@scope-name-1.0.0.tgz",
            ),
            (
                "https://r/d/local/npm/main/@scope/name/-/name-1.0.0.tgz",
                "@scope-name-1.0.0.tgz",
            ),
            (
                "https://r/d/local/npm/main/name/-/name-1.0.0.tgz",
                "name-1.0.0.tgz",
            ),
            (
                "https://r/name/_attachments/name-1.0.0.tgz",
                "name-1.0.0.tgz",
            ),
            ("https://r/name/-/@scope/name-1.0.0.tgz", "name-1.0.0.tgz"),
            ("https://example.com/files/thing.tgz", "thing.tgz"),
        ] {
            assert_eq!(mirror_file_name(url).as_deref(), Some(expected), "{url}");
        }
        assert_eq!(mirror_file_name("https://r/"), None);
    }

    #[test]
    fn berry_and_malformed_locks_are_refused_with_file_and_line() {
        let berry =
            "# This file is generated by running \"yarn install\"\n\n__metadata:\n  version: 8\n";
        let error = parse(Path::new("yarn.lock"), berry).unwrap_err();
        assert!(error.message.contains("yarn 2+"), "{error}");
        let error = parse(
            Path::new("yarn.lock"),
            "# yarn lockfile v1\n\nleft-pad@1.0.0:\n  resolved \"https://r/left-pad/-/left-pad-1.0.0.tgz\"\n",
        )
        .unwrap_err();
        assert_eq!(error.origin, "yarn.lock:3");
        assert!(error.message.contains("no `version`"), "{error}");
        let (entries, notes) = parse(
            Path::new("yarn.lock"),
            "# yarn lockfile v1\n\nleft-pad@1.0.0:\n  version \"1.0.0\"\n  resolved \"https://r/left-pad/-/left-pad-1.0.0.tgz\"\n",
        )
        .unwrap();
        assert!(
            entries.is_empty() && notes[0].contains("cannot be verified"),
            "{notes:?}"
        );
        // Keys yarn never writes give an error naming the line, not a panic.
        for (key, name) in [
            ("\":\"", None),
            ("\"a@npm:\"", None),
            ("nameonly", None),
            ("\"é@1\"", Some("é")),
        ] {
            let text = format!(
                "# yarn lockfile v1\n\n{key}:\n  version \"1.0.0\"\n  resolved \"https://r/a/-/a-1.0.0.tgz#7535345b896734d5f80c4d06c50955527a14f12b\"\n"
            );
            match (parse(Path::new("yarn.lock"), &text), name) {
                (Ok((entries, _)), Some(name)) => assert_eq!(entries[0].package.name, name),
                (Err(error), None) => {
                    assert_eq!(error.origin, "yarn.lock:3");
                    assert!(error.message.contains("is not `name@range`"), "{error}");
                }
                (other, _) => panic!("{key}: {other:?}"),
            }
        }
    }
}
