//! npm's version ranges, as far as its `engines` check needs them: node-semver 7's
//! `satisfies(version, range, { includePrerelease: true })`, which is how
//! npm-install-checks' `checkEngine` compares the running node and npm with a package's
//! `engines.node` and `engines.npm`.
//!
//! The grammar is node-semver's strict one: `||`-separated sets of space-separated
//! comparators (`<`, `<=`, `>`, `>=`, `=` or none), `~`/`~>` and `^` ranges, x-ranges (`1.x`,
//! `1.2.*`, `1`), `*`, and `A - B` hyphen ranges; whitespace after an operator is allowed,
//! build metadata is ignored, numbers have no leading zeros. A range with any comparator
//! that does not parse is invalid, and an invalid range is satisfied by nothing (node-semver
//! throws and `satisfies` answers `false`), so npm treats it as a mismatch.

use std::cmp::Ordering;

/// One prerelease identifier: numeric ones order below alphanumeric ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Identifier {
    Numeric(u64),
    Alphanumeric(String),
}

/// A full version, `1.2.3-beta.1` (build metadata dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    prerelease: Vec<Identifier>,
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(
                || match (self.prerelease.is_empty(), other.prerelease.is_empty()) {
                    (true, true) => Ordering::Equal,
                    // A prerelease is lower than its release.
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    (false, false) => self.prerelease.cmp(&other.prerelease),
                },
            )
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Version {
    /// Parse a full version as node-semver does (`v` prefix allowed): `process.version`
    /// (`v20.11.1`) or npm's own (`10.2.4`).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let text = match text.split_once('+') {
            Some((version, build))
                if build.split('.').all(|identifier| {
                    !identifier.is_empty()
                        && identifier
                            .bytes()
                            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
                }) =>
            {
                version
            }
            Some(_) => return None,
            None => text,
        };
        match Partial::parse(text)? {
            Partial {
                major: Some(major),
                minor: Some(minor),
                patch: Some(patch),
                prerelease,
            } => Some(Self {
                major,
                minor,
                patch,
                prerelease,
            }),
            _ => None,
        }
    }

    fn new(major: u64, minor: u64, patch: u64, prerelease: Vec<Identifier>) -> Self {
        Self {
            major,
            minor,
            patch,
            prerelease,
        }
    }

    /// `M.m.p-0`: the lowest version of `M.m.p`, below all its prereleases.
    fn floor(major: u64, minor: u64, patch: u64) -> Self {
        Self::new(major, minor, patch, vec![Identifier::Numeric(0)])
    }
}

/// A version with wildcards (`None`: `x`, `X`, `*` or missing).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    prerelease: Vec<Identifier>,
}

/// node-semver refuses numbers above `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

fn numeric(text: &str) -> Option<u64> {
    if text.is_empty()
        || !text.bytes().all(|byte| byte.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return None;
    }
    text.parse().ok().filter(|value| *value <= MAX_SAFE_INTEGER)
}

impl Partial {
    /// `M[.m[.p[-prerelease]]]` with `x`/`X`/`*` for any number; the caller has stripped
    /// the operator, the `v`/`=` prefix and build metadata. A prerelease needs all three
    /// numbers, and a wildcard cannot be followed by a number (`1.x.3`).
    fn parse(text: &str) -> Option<Self> {
        let (main, prerelease) = match text.split_once('-') {
            Some((main, prerelease)) => (main, Some(prerelease)),
            None => (text, None),
        };
        let parts: Vec<&str> = main.split('.').collect();
        if parts.len() > 3 {
            return None;
        }
        let mut numbers = [None; 3];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            *slot = match *part {
                "x" | "X" | "*" => None,
                number => Some(numeric(number)?),
            };
        }
        let prerelease = match prerelease {
            None => Vec::new(),
            Some(text) => {
                if parts.len() != 3 || numbers.iter().any(Option::is_none) {
                    return None;
                }
                text.split('.')
                    .map(|identifier| {
                        if identifier.is_empty()
                            || !identifier
                                .bytes()
                                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
                        {
                            None
                        } else if identifier.bytes().all(|byte| byte.is_ascii_digit()) {
                            numeric(identifier).map(Identifier::Numeric)
                        } else {
                            Some(Identifier::Alphanumeric(identifier.to_owned()))
                        }
                    })
                    .collect::<Option<Vec<_>>>()?
            }
        };
        let [major, minor, patch] = numbers;
        Some(Self {
            major,
            minor,
            patch,
            prerelease,
        })
    }
}

/// A primitive comparison; `Any` matches every version, `None` no version.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Comparator {
    Any,
    Nothing,
    Compare(Ordering, bool, Version),
}

impl Comparator {
    fn at_least(version: Version) -> Self {
        Self::Compare(Ordering::Greater, true, version)
    }

    fn below(version: Version) -> Self {
        Self::Compare(Ordering::Less, false, version)
    }

    fn matches(&self, version: &Version) -> bool {
        match self {
            Self::Any => true,
            Self::Nothing => false,
            Self::Compare(wanted, or_equal, bound) => {
                let order = version.cmp(bound);
                order == *wanted || (*or_equal && order == Ordering::Equal)
            }
        }
    }
}

/// Remove build metadata (`+` and identifiers of `[0-9A-Za-z-]` separated by dots)
/// wherever it stands, as node-semver does before parsing a range.
fn strip_build(text: &str) -> String {
    let bytes = text.as_bytes();
    let identifier = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'-';
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'+' && bytes.get(at + 1).is_some_and(|byte| identifier(*byte)) {
            let mut end = at + 1;
            loop {
                while end < bytes.len() && identifier(bytes[end]) {
                    end += 1;
                }
                if end + 1 < bytes.len() && bytes[end] == b'.' && identifier(bytes[end + 1]) {
                    end += 1;
                } else {
                    break;
                }
            }
            at = end;
        } else {
            let character = text[at..].chars().next().unwrap_or(' ');
            out.push(character);
            at += character.len_utf8();
        }
    }
    out
}

/// A version with `v`/`=` prefixes (node-semver's `[v=\s]*`) removed.
fn partial(text: &str) -> Option<Partial> {
    Partial::parse(text.trim_start_matches(['v', '=']))
}

/// The comparators of one `A - B` range (`includePrerelease`: bounds at `-0`).
fn hyphen(from: &Partial, to: &Partial) -> Vec<Comparator> {
    let mut out = Vec::new();
    match (from.major, from.minor, from.patch) {
        (None, ..) => {}
        (Some(major), None, _) => out.push(Comparator::at_least(Version::floor(major, 0, 0))),
        (Some(major), Some(minor), None) => {
            out.push(Comparator::at_least(Version::floor(major, minor, 0)));
        }
        (Some(major), Some(minor), Some(patch)) => {
            out.push(Comparator::at_least(if from.prerelease.is_empty() {
                Version::floor(major, minor, patch)
            } else {
                Version::new(major, minor, patch, from.prerelease.clone())
            }));
        }
    }
    match (to.major, to.minor, to.patch) {
        (None, ..) => {}
        (Some(major), None, _) => out.push(Comparator::below(Version::floor(major + 1, 0, 0))),
        (Some(major), Some(minor), None) => {
            out.push(Comparator::below(Version::floor(major, minor + 1, 0)));
        }
        (Some(major), Some(minor), Some(patch)) => {
            out.push(if to.prerelease.is_empty() {
                Comparator::below(Version::floor(major, minor, patch + 1))
            } else {
                Comparator::Compare(
                    Ordering::Less,
                    true,
                    Version::new(major, minor, patch, to.prerelease.clone()),
                )
            });
        }
    }
    if out.is_empty() {
        out.push(Comparator::Any);
    }
    out
}

/// The comparators one word of a range stands for (`^1.2`, `~1`, `>=2.x`, `1.2.3`, `*`).
fn word(word: &str) -> Option<Vec<Comparator>> {
    let (operator, rest) = ["~>", "~", "^", ">=", "<=", ">", "<", "="]
        .into_iter()
        .find_map(|operator| word.strip_prefix(operator).map(|rest| (operator, rest)))
        .unwrap_or(("", word));
    let version = partial(rest)?;
    let Partial {
        major,
        minor,
        patch,
        ref prerelease,
    } = version;
    let Some(major) = major else {
        // `x.1` is not an x-range (`^x.1` and `~x.1` are any version, as node-semver has it).
        if minor.is_some() && !matches!(operator, "^" | "~" | "~>") {
            return None;
        }
        return Some(vec![if matches!(operator, ">" | "<") {
            Comparator::Nothing
        } else {
            Comparator::Any
        }]);
    };
    let between = |low: Version, high: Version| {
        Some(vec![Comparator::at_least(low), Comparator::below(high)])
    };
    match operator {
        "^" => match (minor, patch) {
            (None, _) => between(Version::floor(major, 0, 0), Version::floor(major + 1, 0, 0)),
            (Some(minor), None) if major == 0 => {
                between(Version::floor(0, minor, 0), Version::floor(0, minor + 1, 0))
            }
            (Some(minor), None) => between(
                Version::floor(major, minor, 0),
                Version::floor(major + 1, 0, 0),
            ),
            (Some(minor), Some(patch)) => {
                let low = Version::new(major, minor, patch, prerelease.clone());
                let high = match (major, minor) {
                    (0, 0) => Version::floor(0, 0, patch + 1),
                    (0, minor) => Version::floor(0, minor + 1, 0),
                    (major, _) => Version::floor(major + 1, 0, 0),
                };
                between(low, high)
            }
        },
        "~" | "~>" => match (minor, patch) {
            (None, _) => between(Version::floor(major, 0, 0), Version::floor(major + 1, 0, 0)),
            (Some(minor), None) => between(
                Version::floor(major, minor, 0),
                Version::floor(major, minor + 1, 0),
            ),
            (Some(minor), Some(patch)) => between(
                Version::new(major, minor, patch, prerelease.clone()),
                Version::floor(major, minor + 1, 0),
            ),
        },
        _ => {
            if minor.is_none() && patch.is_some() {
                return None;
            }
            match (minor, patch) {
                (Some(minor), Some(patch)) => {
                    let exact = Version::new(major, minor, patch, prerelease.clone());
                    Some(vec![match operator {
                        ">=" => Comparator::at_least(exact),
                        "<=" => Comparator::Compare(Ordering::Less, true, exact),
                        ">" => Comparator::Compare(Ordering::Greater, false, exact),
                        "<" => Comparator::below(exact),
                        _ => Comparator::Compare(Ordering::Equal, true, exact),
                    }])
                }
                (minor, _) => {
                    // `M.x` or `M.m.x`: the next version up that the wildcard excludes.
                    let next = minor.map_or_else(
                        || Version::floor(major + 1, 0, 0),
                        |minor| Version::floor(major, minor + 1, 0),
                    );
                    let low = Version::floor(major, minor.unwrap_or(0), 0);
                    Some(match operator {
                        ">" => vec![Comparator::at_least(next)],
                        ">=" => vec![Comparator::at_least(low)],
                        "<" => vec![Comparator::below(low)],
                        "<=" => vec![Comparator::below(next)],
                        _ => vec![Comparator::at_least(low), Comparator::below(next)],
                    })
                }
            }
        }
    }
}

/// One `||`-separated set: every comparator it holds, `None` when a word does not parse.
fn set(text: &str) -> Option<Vec<Comparator>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if let [from, "-", to] = words.as_slice() {
        return Some(hyphen(&partial(from)?, &partial(to)?));
    }
    // An operator standing alone belongs to the next word (`>= 1.2`, `^ 1.2`).
    let mut joined: Vec<String> = Vec::new();
    let mut pending = String::new();
    for word in words {
        pending.push_str(word);
        if !matches!(word, "<" | "<=" | ">" | ">=" | "=" | "~" | "~>" | "^") {
            joined.push(std::mem::take(&mut pending));
        }
    }
    if !pending.is_empty() {
        joined.push(pending);
    }
    if joined.is_empty() {
        return Some(vec![Comparator::Any]);
    }
    let mut comparators = Vec::new();
    for text in joined {
        comparators.extend(word(&text)?);
    }
    Some(comparators)
}

/// Whether `version` satisfies `range` as node-semver's `satisfies` with
/// `includePrerelease` decides; an invalid range is satisfied by nothing.
#[must_use]
pub fn satisfies(version: &Version, range: &str) -> bool {
    let range = strip_build(range);
    let Some(sets) = range.split("||").map(set).collect::<Option<Vec<_>>>() else {
        return false;
    };
    sets.iter()
        .any(|set| set.iter().all(|comparator| comparator.matches(version)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(version: &str, range: &str) -> bool {
        satisfies(&Version::parse(version).unwrap(), range)
    }

    #[test]
    fn ranges_as_node_semver_reads_them_with_prereleases_included() {
        // (version, range, satisfied), cases from node-semver's range tests and real
        // `engines` fields.
        for (version, range, expected) in [
            ("v20.11.1", ">=14", true),
            ("v20.11.1", ">= 14.17.0", true),
            ("v20.11.1", "^14.17.0 || ^16.10.0 || >=17.0.0", true),
            ("v20.11.1", "^12.22.0 || ^14.17.0 || >=16.0.0", true),
            ("v20.11.1", "<1", false),
            ("v20.11.1", "<=0.10", false),
            ("v20.11.1", "0.10.x || 0.12.x", false),
            ("v20.11.1", "20.x", true),
            ("v20.11.1", "20", true),
            ("v20.11.1", "~20.11", true),
            ("v20.11.1", "~20.10", false),
            ("v20.11.1", "~>20.11.0", true),
            ("v20.11.1", "^20.12", false),
            ("v20.11.1", "*", true),
            ("v20.11.1", "x", true),
            ("v20.11.1", "", true),
            ("v20.11.1", ">20", false),
            ("v20.11.1", ">19", true),
            ("v20.11.1", "<=20", true),
            ("v20.11.1", "<20", false),
            ("v20.11.1", "18 - 20", true),
            ("v20.11.1", "18 - 20.10", false),
            ("v20.11.1", "18.0.0 - 20.11.1", true),
            ("v20.11.1", "18.0.0 - 20.11.0", false),
            ("v20.11.1", "=20.11.1", true),
            ("v20.11.1", "v20.11.1", true),
            ("v20.11.1", "20.11.1+build.7", true),
            ("v20.11.1", ">=18 <20", false),
            ("v20.11.1", "> 18 < 21", true),
            ("v20.11.1", "< 21 || > 25", true),
            // Invalid ranges are satisfied by nothing.
            ("v20.11.1", "node >= 0.8", false),
            ("v20.11.1", ">=01.2", false),
            ("v20.11.1", "1.x.3", false),
            ("v20.11.1", "x.1", false),
            ("v20.11.1", ">=14 ||| <1", false),
            ("0.0.1", "^0.0.1", true),
            ("0.0.2", "^0.0.1", false),
            ("0.1.9", "^0.1.2", true),
            ("0.2.0", "^0.1.2", false),
            // With prereleases included: a prerelease satisfies a range around it.
            ("v21.0.0-nightly20230801", ">=20", true),
            ("v21.0.0-pre", "^21", true),
            ("v21.0.0-pre", "21.x", true),
            ("v21.0.0-pre", ">=21.0.0", false),
            ("v21.0.0-pre", "<21", false),
            ("v21.0.0-pre", "<21.0.0-0", false),
            ("v21.0.0-pre", ">=21.0.0-alpha", true),
            ("v21.0.0-pre", ">=21.0.0-rc", false),
            ("1.0.0-beta.11", ">1.0.0-beta.2", true),
            ("1.0.0-beta.2", ">1.0.0-beta.11", false),
        ] {
            assert_eq!(check(version, range), expected, "{version} in `{range}`");
        }
    }

    #[test]
    fn versions_parse_strictly() {
        assert!(Version::parse("v20.11.1").is_some());
        assert_eq!(
            Version::parse("1.2.3-rc.1+build.5"),
            Version::parse("1.2.3-rc.1")
        );
        assert!(Version::parse("1.2.3+").is_none());
        assert!(Version::parse("1.2").is_none());
        assert!(Version::parse("1.02.3").is_none());
    }
}
