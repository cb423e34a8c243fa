//! PEP 440 versions and version specifiers, as far as choosing a file needs them: an index's
//! `requires-python` (PEP 503 `data-requires-python`) and the version comparisons of
//! environment markers (`python_full_version < '3.12'`), both evaluated against a Python
//! version the way `packaging.specifiers` does (pre-releases allowed).

use std::cmp::Ordering;

/// A parsed PEP 440 version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    epoch: u64,
    release: Vec<u64>,
    /// `a` = 0, `b` = 1, `rc` = 2, with its number.
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Option<String>,
}

/// The number after a pre, post or dev label, with its optional separator.
fn label_number(text: &str) -> (u64, &str) {
    let text = text.strip_prefix(['-', '_', '.']).unwrap_or(text);
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    (text[..digits].parse().unwrap_or(0), &text[digits..])
}

impl Version {
    /// Parse a version (normalized forms and the spellings PEP 440 allows: `v1.0`, `1.0-rc1`,
    /// `1.0.post`, `1.0-1`). `None` when it is not one.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let lower = text.trim().to_ascii_lowercase();
        let mut rest = lower.strip_prefix('v').unwrap_or(&lower);
        let (rest_without_local, local) = match rest.split_once('+') {
            Some((head, local)) if !local.is_empty() => (head, Some(local.to_owned())),
            Some(_) => return None,
            None => (rest, None),
        };
        rest = rest_without_local;
        let mut epoch = 0;
        if let Some((head, tail)) = rest.split_once('!') {
            epoch = head.parse().ok()?;
            rest = tail;
        }
        let mut release = Vec::new();
        loop {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 {
                return None;
            }
            release.push(rest[..digits].parse().ok()?);
            rest = &rest[digits..];
            match rest.strip_prefix('.') {
                Some(tail) if tail.starts_with(|c: char| c.is_ascii_digit()) => rest = tail,
                _ => break,
            }
        }
        let mut version = Self {
            epoch,
            release,
            pre: None,
            post: None,
            dev: None,
            local,
        };
        let unseparated = rest.trim_start_matches(['-', '_', '.']);
        for (label, kind) in [
            ("alpha", 0),
            ("a", 0),
            ("beta", 1),
            ("b", 1),
            ("rc", 2),
            ("c", 2),
            ("preview", 2),
            ("pre", 2),
        ] {
            if let Some(tail) = unseparated.strip_prefix(label) {
                let (number, tail) = label_number(tail);
                version.pre = Some((kind, number));
                rest = tail;
                break;
            }
        }
        if let Some(tail) = rest.strip_prefix('-')
            && tail.starts_with(|c: char| c.is_ascii_digit())
        {
            let (number, tail) = label_number(tail);
            version.post = Some(number);
            rest = tail;
        } else {
            let unseparated = rest.trim_start_matches(['-', '_', '.']);
            for label in ["post", "rev", "r"] {
                if let Some(tail) = unseparated.strip_prefix(label) {
                    let (number, tail) = label_number(tail);
                    version.post = Some(number);
                    rest = tail;
                    break;
                }
            }
        }
        let unseparated = rest.trim_start_matches(['-', '_', '.']);
        if let Some(tail) = unseparated.strip_prefix("dev") {
            let (number, tail) = label_number(tail);
            version.dev = Some(number);
            rest = tail;
        }
        rest.is_empty().then_some(version)
    }

    /// Whether this is a pre-release (or a development release).
    #[must_use]
    pub const fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// The release numbers without trailing zeros (`1.0.0` and `1` compare equal).
    fn trimmed_release(&self) -> &[u64] {
        let end = self
            .release
            .iter()
            .rposition(|&number| number != 0)
            .map_or(0, |at| at + 1);
        &self.release[..end]
    }

    /// `packaging.version._cmpkey` without the local segment.
    fn compare_public(&self, other: &Self) -> Ordering {
        let pre_key = |version: &Self| match (version.pre, version.post, version.dev) {
            (None, None, Some(_)) => (-1, 0),
            (None, _, _) => (3, 0),
            (Some((kind, number)), _, _) => (i16::from(kind), number),
        };
        let post_key = |version: &Self| version.post.map_or(-1, i128::from);
        let dev_key = |version: &Self| version.dev.map_or(i128::MAX, i128::from);
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| self.trimmed_release().cmp(other.trimmed_release()))
            .then_with(|| pre_key(self).cmp(&pre_key(other)))
            .then_with(|| post_key(self).cmp(&post_key(other)))
            .then_with(|| dev_key(self).cmp(&dev_key(other)))
    }

    /// The same version with only epoch and release (`1.0rc1.post2` → `1.0`).
    fn base(&self) -> Self {
        Self {
            epoch: self.epoch,
            release: self.release.clone(),
            pre: None,
            post: None,
            dev: None,
            local: None,
        }
    }
}

/// One clause of a specifier set, `>=3.8` or `!=3.0.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    operator: &'static str,
    version: Version,
    /// `==3.*`, `!=3.0.*`.
    wildcard: bool,
    text: String,
}

/// A specifier set such as `>=3.8, !=3.9.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specifiers(Vec<Clause>);

impl Specifiers {
    /// Parse a comma-separated specifier set; `None` if any clause is not valid (pip then
    /// ignores a `requires-python`).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let mut clauses = Vec::new();
        for clause in text.split(',') {
            let clause = clause.trim();
            if clause.is_empty() {
                continue;
            }
            let operator = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"]
                .into_iter()
                .find(|operator| clause.starts_with(operator))?;
            let value = clause[operator.len()..].trim();
            let (value, wildcard) = match value.strip_suffix(".*") {
                Some(prefix) if matches!(operator, "==" | "!=") => (prefix, true),
                _ => (value, false),
            };
            let version = if operator == "===" {
                Version::parse(value).unwrap_or_else(|| Version {
                    epoch: 0,
                    release: Vec::new(),
                    pre: None,
                    post: None,
                    dev: None,
                    local: None,
                })
            } else {
                Version::parse(value)?
            };
            if operator == "~=" && version.release.len() < 2 {
                return None;
            }
            clauses.push(Clause {
                operator,
                version,
                wildcard,
                text: value.to_owned(),
            });
        }
        Some(Self(clauses))
    }

    /// Whether `candidate` satisfies every clause (pre-releases allowed).
    #[must_use]
    pub fn contains(&self, candidate: &Version) -> bool {
        self.0.iter().all(|clause| clause.contains(candidate))
    }
}

impl Clause {
    fn contains(&self, candidate: &Version) -> bool {
        let spec = &self.version;
        let prefix_matches = |prefix: &Version| {
            let mut release = candidate.release.clone();
            if release.len() < prefix.release.len() {
                release.resize(prefix.release.len(), 0);
            }
            candidate.epoch == prefix.epoch && release[..prefix.release.len()] == prefix.release
        };
        let equal = || {
            if self.wildcard {
                prefix_matches(spec)
            } else {
                candidate.compare_public(spec) == Ordering::Equal
                    && (spec.local.is_none() || spec.local == candidate.local)
            }
        };
        match self.operator {
            "==" => equal(),
            "!=" => !equal(),
            "===" => candidate_text(candidate).eq_ignore_ascii_case(&self.text),
            "<=" => candidate.compare_public(spec) != Ordering::Greater,
            ">=" => candidate.compare_public(spec) != Ordering::Less,
            "<" => {
                candidate.compare_public(spec) == Ordering::Less
                    && !(!spec.is_prerelease()
                        && candidate.is_prerelease()
                        && candidate.base().compare_public(&spec.base()) == Ordering::Equal)
            }
            ">" => {
                candidate.compare_public(spec) == Ordering::Greater
                    && !(spec.post.is_none()
                        && candidate.post.is_some()
                        && candidate.base().compare_public(&spec.base()) == Ordering::Equal)
                    && !(candidate.local.is_some()
                        && candidate.compare_public(spec) == Ordering::Equal)
            }
            "~=" => {
                let mut prefix = spec.base();
                prefix.release.pop();
                candidate.compare_public(spec) != Ordering::Less && prefix_matches(&prefix)
            }
            _ => false,
        }
    }
}

/// A version written back out (for `===`, which compares strings).
fn candidate_text(version: &Version) -> String {
    version
        .release
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|| panic!("{text}"))
    }

    fn satisfies(candidate: &str, specifiers: &str) -> bool {
        Specifiers::parse(specifiers)
            .unwrap_or_else(|| panic!("{specifiers}"))
            .contains(&version(candidate))
    }

    #[test]
    fn versions_order_like_packaging() {
        let ordered = [
            "1.0.dev1",
            "1.0a1",
            "1.0a2.dev3",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0.post1",
            "1.1",
            "2!0.1",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(
                version(pair[0]).compare_public(&version(pair[1])),
                Ordering::Less,
                "{pair:?}"
            );
        }
        assert_eq!(
            version("1.0.0").compare_public(&version("v1")),
            Ordering::Equal
        );
        assert_eq!(version("1.0-RC-1").pre, Some((2, 1)));
        assert_eq!(version("1.0-3").post, Some(3));
        for bad in ["", "x", "1.0+", "1..0", "1.0 extra"] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn requires_python_clauses() {
        assert!(satisfies("3.11.7", ">=3.8"));
        assert!(!satisfies("3.11.7", ">=3.12"));
        assert!(satisfies("3.11.7", ">=2.7, !=3.0.*, !=3.1.*"));
        assert!(!satisfies("3.1.4", ">=2.7,!=3.0.*,!=3.1.*"));
        assert!(satisfies("3.11.7", "~=3.9"));
        assert!(!satisfies("4.0", "~=3.9"));
        assert!(satisfies("3.11.7", "==3.11.*"));
        assert!(satisfies("3.11", "==3.11.0"));
        assert!(!satisfies("3.12.0", "<3.12"));
        assert!(
            !satisfies("3.12.0rc1", "<3.12"),
            "a pre-release of the bound"
        );
        assert!(satisfies("3.12.0rc1", "<3.12.0rc2"));
        assert!(!satisfies("3.12.post1", ">3.12"));
        assert!(satisfies("3.12.1", ">3.12"));
        assert!(satisfies("3.11.7", ""));
        assert!(Specifiers::parse(">=3.8,<").is_none());
        assert!(Specifiers::parse("~=3").is_none());
        assert!(Specifiers::parse(">= 3.8 ,< 4").is_some());
    }
}
