//! NuGet versions: parsing, normalization and ordering as NuGet.Versioning does them.
//!
//! A NuGet version is `Major[.Minor[.Patch[.Revision]]][-release.labels][+metadata]`. The
//! normalized form (what flat-container paths, registration leaves and the index key use)
//! always has three parts, keeps a fourth only when it is not zero, drops leading zeros and
//! build metadata: `1.0` → `1.0.0`, `01.2.3.0` → `1.2.3`, `1.0.0-Beta+sha.1` → `1.0.0-Beta`.
//! Ordering is SemVer 2.0 extended with the revision part; release labels compare
//! case-insensitively, as NuGet does.

use std::cmp::Ordering;
use std::fmt;

/// Why a version string is not a NuGet version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{version}` is not a valid NuGet version: {reason}")]
pub struct InvalidVersion {
    /// The version as given.
    pub version: String,
    /// Why.
    pub reason: &'static str,
}

/// A parsed NuGet version.
#[derive(Debug, Clone)]
pub struct NuGetVersion {
    /// The four numeric parts (missing ones are zero).
    pub parts: [u64; 4],
    /// Release labels (empty for a stable version), in their original case.
    pub release: Vec<String>,
    /// Build metadata after `+`, if any.
    pub metadata: Option<String>,
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
}

impl NuGetVersion {
    /// Parse a version as NuGet does (1 to 4 numeric parts, optional release labels and
    /// build metadata).
    ///
    /// # Errors
    /// [`InvalidVersion`] saying which part is wrong.
    ///
    /// ```
    /// use lading::ecosystem::nuget::NuGetVersion;
    /// let version = NuGetVersion::parse("1.0-Beta.2+abc").unwrap();
    /// assert_eq!(version.normalized(), "1.0.0-Beta.2");
    /// assert_eq!(version.key(), "1.0.0-beta.2");
    /// ```
    pub fn parse(text: &str) -> Result<Self, InvalidVersion> {
        let invalid = |reason| InvalidVersion {
            version: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        let (rest, metadata) = match trimmed.split_once('+') {
            Some((rest, metadata)) => {
                if !metadata.split('.').all(valid_label) {
                    return Err(invalid(
                        "build metadata must be dot-separated [0-9A-Za-z-] labels",
                    ));
                }
                (rest, Some(metadata.to_owned()))
            }
            None => (trimmed, None),
        };
        let (numbers, release) = match rest.split_once('-') {
            Some((numbers, release)) => {
                if !release.split('.').all(valid_label) {
                    return Err(invalid(
                        "release labels must be dot-separated [0-9A-Za-z-] labels",
                    ));
                }
                (numbers, release.split('.').map(ToOwned::to_owned).collect())
            }
            None => (rest, Vec::new()),
        };
        let pieces: Vec<&str> = numbers.split('.').collect();
        if pieces.len() > 4 {
            return Err(invalid("it has more than four numeric parts"));
        }
        let mut parts = [0_u64; 4];
        for (slot, piece) in parts.iter_mut().zip(&pieces) {
            if piece.is_empty() || !piece.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(invalid("numeric parts must be non-empty digit strings"));
            }
            *slot = piece
                .parse::<u32>()
                .map(u64::from)
                .map_err(|_| invalid("a numeric part is too large"))?;
        }
        Ok(Self {
            parts,
            release,
            metadata,
        })
    }

    /// Whether the version has release labels.
    #[must_use]
    pub fn is_prerelease(&self) -> bool {
        !self.release.is_empty()
    }

    /// Whether the version needs SemVer 2.0 support in a client (dotted release labels or
    /// build metadata).
    #[must_use]
    pub fn is_semver2(&self) -> bool {
        self.release.len() > 1 || self.metadata.is_some()
    }

    /// The normalized form, release labels in their original case, no build metadata.
    #[must_use]
    pub fn normalized(&self) -> String {
        let [major, minor, patch, revision] = self.parts;
        let mut text = format!("{major}.{minor}.{patch}");
        if revision != 0 {
            text.push('.');
            text.push_str(&revision.to_string());
        }
        if !self.release.is_empty() {
            text.push('-');
            text.push_str(&self.release.join("."));
        }
        text
    }

    /// The normalized form lowercased: the index key and the flat-container path segment.
    #[must_use]
    pub fn key(&self) -> String {
        self.normalized().to_lowercase()
    }

    /// The normalized form with `+metadata`, as registration `catalogEntry.version` shows it.
    #[must_use]
    pub fn full(&self) -> String {
        match &self.metadata {
            Some(metadata) => format!("{}+{metadata}", self.normalized()),
            None => self.normalized(),
        }
    }
}

impl fmt::Display for NuGetVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.normalized())
    }
}

fn compare_label(left: &str, right: &str) -> Ordering {
    let numeric = |label: &str| {
        label
            .bytes()
            .all(|byte| byte.is_ascii_digit())
            .then(|| label.parse::<u128>().ok())
            .flatten()
    };
    match (numeric(left), numeric(right)) {
        (Some(left), Some(right)) => left.cmp(&right),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => left.to_ascii_lowercase().cmp(&right.to_ascii_lowercase()),
    }
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts).then_with(|| {
            match (self.release.is_empty(), other.release.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (left, right) in self.release.iter().zip(&other.release) {
                        let order = compare_label(left, right);
                        if order != Ordering::Equal {
                            return order;
                        }
                    }
                    self.release.len().cmp(&other.release.len())
                }
            }
        })
    }
}

impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Equality ignores build metadata and release-label case, as NuGet's does.
impl PartialEq for NuGetVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for NuGetVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> String {
        NuGetVersion::parse(text).unwrap().key()
    }

    #[test]
    fn versions_are_normalized_as_nuget_does() {
        assert_eq!(key("1"), "1.0.0");
        assert_eq!(key("1.0"), "1.0.0");
        assert_eq!(key("1.0.0.0"), "1.0.0");
        assert_eq!(key("1.2.3.4"), "1.2.3.4");
        assert_eq!(key("01.002.3"), "1.2.3");
        assert_eq!(key(" 1.0.0 "), "1.0.0");
        assert_eq!(key("1.0.0-Beta.2+Build.5"), "1.0.0-beta.2");
        assert_eq!(key("1.0.0+sha.abc"), "1.0.0");
        let version = NuGetVersion::parse("1.0-RC1+git").unwrap();
        assert_eq!(version.normalized(), "1.0.0-RC1");
        assert_eq!(version.full(), "1.0.0-RC1+git");
        assert!(version.is_prerelease());
        assert!(version.is_semver2());
        assert!(!NuGetVersion::parse("1.0-rc1").unwrap().is_semver2());
    }

    #[test]
    fn invalid_versions_are_refused() {
        for text in [
            "",
            "1.",
            ".1",
            "1..2",
            "1.2.3.4.5",
            "a.b",
            "1.0-",
            "1.0-a..b",
            "1.0+",
            "1.0-b_c",
            "1.0 beta",
            "-1.0",
            "99999999999",
        ] {
            assert!(NuGetVersion::parse(text).is_err(), "{text:?} should fail");
        }
    }

    #[test]
    fn versions_order_as_semver_with_revision() {
        let ordered = [
            "0.9.0",
            "1.0.0-alpha",
            "1.0.0-Alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.0.1",
            "1.0.1",
            "10.0.0",
        ];
        for pair in ordered.windows(2) {
            let (left, right) = (
                NuGetVersion::parse(pair[0]).unwrap(),
                NuGetVersion::parse(pair[1]).unwrap(),
            );
            assert!(left < right, "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(
            NuGetVersion::parse("1.0.0-BETA+x").unwrap(),
            NuGetVersion::parse("1.0-beta").unwrap()
        );
    }
}
