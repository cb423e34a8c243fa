//! Package groups: CodeArtifact's pattern syntax, which group a package belongs to, and the
//! origin restrictions that follow for it. The control-plane operations that manage groups
//! are in `control/package_groups.rs`; this module is what every publish and every read
//! through upstreams consults (through [`super::packages`]), so it names no format.
//!
//! **Patterns** (the CodeArtifact user guide, "Package group definition syntax and matching
//! behavior") are package paths `/FORMAT/NAMESPACE/NAME` cut short and ended by a suffix:
//! `/*` (everything: the root group, which every domain has and which cannot be deleted),
//! `/npm/*` (a format), `/maven/com.anycompany~` (a namespace word prefix),
//! `/npm/space/*` (a namespace; `/npm//*` is npm packages without a scope),
//! `/npm/space/anycompany-ui~` (a name word prefix), `/maven/org.apache/log4j-core$` (one
//! package). `~` follows a word character and matches that word and what follows a word
//! boundary (`foo~` matches `foo` and `foo-bar`, not `food`); after a non-word character the
//! suffix is `*`, a plain prefix (`/npm//foo-*`). Formats without namespaces (PyPI, NuGet,
//! Ruby, Cargo) leave the namespace blank (`/pypi//requests$`); Maven, generic and Swift
//! patterns that name a package name its namespace too.
//!
//! **Association**: a package belongs to the most specific group whose pattern matches it
//! (a longer pattern, or a subset of the other's packages); only that group's configuration
//! applies. A match is *strong* when the package's coordinates are the pattern's exactly and
//! *weak* when they differ only by case or by runs of `-`, `.` and `_` (CodeArtifact also
//! folds confusable characters, which this does not); a package weakly matching its most
//! specific group is blocked for every origin, so `AnyCompany_Client` cannot slip past the
//! rules written for `anycompany-client`.
//!
//! **Restrictions**: each group sets `PUBLISH`, `EXTERNAL_UPSTREAM` and `INTERNAL_UPSTREAM`
//! to `ALLOW`, `BLOCK`, `ALLOW_SPECIFIC_REPOSITORIES` (only the repositories on the group's
//! list for that restriction) or `INHERIT` (the first ancestor's setting that is not
//! `INHERIT`; the list is that ancestor's). A new group inherits all three; the root allows
//! all three. `PUBLISH` is checked for the repository published to, `EXTERNAL_UPSTREAM` for
//! the repository owning the external connection (where a pulled version enters the
//! domain), `INTERNAL_UPSTREAM` for the repository retaining a version from its upstream
//! repositories. A package's own origin configuration still applies as well: a version
//! enters only when both allow it.

use super::index::Connection;

use crate::format::Format;

use super::store::{self, PackageGroupRow, PackageKey};

/// The root group's pattern.
pub const ROOT: &str = "/*";

/// Whether a format's patterns name a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NamespaceRule {
    /// Its packages have none: patterns leave it blank.
    Blank,
    /// Some packages have one (npm scopes).
    Optional,
    /// A pattern naming a package names its namespace too.
    Required,
}

fn namespace_rule(format: Format) -> NamespaceRule {
    match format {
        Format::Pypi | Format::Nuget | Format::Ruby | Format::Cargo => NamespaceRule::Blank,
        Format::Npm => NamespaceRule::Optional,
        Format::Maven | Format::Generic | Format::Swift => NamespaceRule::Required,
    }
}

/// The three ways a package version enters a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestrictionType {
    /// Published directly with a package manager.
    Publish,
    /// Ingested from an external connection.
    ExternalUpstream,
    /// Retained from an upstream repository in the domain.
    InternalUpstream,
}

impl RestrictionType {
    /// All three, in the order responses list them.
    pub const ALL: [Self; 3] = [
        Self::ExternalUpstream,
        Self::InternalUpstream,
        Self::Publish,
    ];

    /// The API's name: `PUBLISH`, `EXTERNAL_UPSTREAM`, `INTERNAL_UPSTREAM`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Publish => "PUBLISH",
            Self::ExternalUpstream => "EXTERNAL_UPSTREAM",
            Self::InternalUpstream => "INTERNAL_UPSTREAM",
        }
    }

    /// Parse the API's name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == text)
    }

    /// This restriction's mode in a stored group.
    #[must_use]
    pub fn mode_of(self, row: &PackageGroupRow) -> Mode {
        let text = match self {
            Self::Publish => &row.publish,
            Self::ExternalUpstream => &row.external_upstream,
            Self::InternalUpstream => &row.internal_upstream,
        };
        Mode::parse(text).unwrap_or(Mode::Inherit)
    }

    /// Set this restriction's mode in a group.
    pub fn set_mode(self, row: &mut PackageGroupRow, mode: Mode) {
        let field = match self {
            Self::Publish => &mut row.publish,
            Self::ExternalUpstream => &mut row.external_upstream,
            Self::InternalUpstream => &mut row.internal_upstream,
        };
        mode.name().clone_into(field);
    }
}

/// A restriction's setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every repository.
    Allow,
    /// Only the repositories on the group's list for the restriction.
    AllowSpecificRepositories,
    /// No repository.
    Block,
    /// The first ancestor's setting that is not `INHERIT`.
    Inherit,
}

impl Mode {
    /// Every mode, as the model lists them.
    pub const ALL: [Self; 4] = [
        Self::Allow,
        Self::AllowSpecificRepositories,
        Self::Block,
        Self::Inherit,
    ];

    /// The API's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Allow => "ALLOW",
            Self::AllowSpecificRepositories => "ALLOW_SPECIFIC_REPOSITORIES",
            Self::Block => "BLOCK",
            Self::Inherit => "INHERIT",
        }
    }

    /// Parse the API's name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.name() == text)
    }
}

/// A prefix a namespace or name must start with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    stem: String,
    /// `~`: the stem must end at a word boundary of the value.
    word: bool,
}

impl Prefix {
    fn accepts(&self, value: &str) -> bool {
        accepts(&self.stem, self.word, value)
    }

    fn accepts_weakly(&self, value: &str) -> bool {
        accepts(&normalize(&self.stem), self.word, &normalize(value))
    }
}

fn accepts(stem: &str, word: bool, value: &str) -> bool {
    let Some(rest) = value.strip_prefix(stem) else {
        return false;
    };
    !word
        || rest
            .chars()
            .next()
            .is_none_or(|next| !is_word_character(next))
}

/// CodeArtifact's word characters are letters, numbers and marks (`[\p{L}\p{N}\p{M}]`);
/// `char::is_alphanumeric` covers letters and numbers and the marks Unicode counts as
/// alphabetic.
fn is_word_character(character: char) -> bool {
    character.is_alphanumeric()
}

/// What weak matching compares: case folded, and each run of `-`, `.` and `_` made one `.`.
fn normalize(value: &str) -> String {
    let mut normalized = String::with_capacity(value.len());
    let mut in_separators = false;
    for character in value.chars() {
        if matches!(character, '-' | '.' | '_') {
            if !in_separators {
                normalized.push('.');
            }
            in_separators = true;
        } else {
            in_separators = false;
            normalized.extend(character.to_lowercase());
        }
    }
    normalized
}

/// A parsed package group pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `/*`.
    All,
    /// `/FORMAT/*`.
    Format(String),
    /// `/FORMAT/PREFIX~` or `/FORMAT/PREFIX*`.
    NamespacePrefix(String, Prefix),
    /// `/FORMAT/NAMESPACE/*`.
    Namespace(String, String),
    /// `/FORMAT/NAMESPACE/PREFIX~` or `/FORMAT/NAMESPACE/PREFIX*`.
    NamePrefix(String, String, Prefix),
    /// `/FORMAT/NAMESPACE/NAME$`.
    Name(String, String, String),
}

/// How a package matches a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// Only as a variation (case, `-`/`.`/`_`).
    Weak,
    /// Exactly.
    Strong,
}

impl Strength {
    /// The API's `PackageGroupAssociationType`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Strong => "STRONG",
            Self::Weak => "WEAK",
        }
    }
}

/// Why a pattern is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("package group pattern `{pattern}` is invalid: {why}")]
pub struct PatternError {
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it.
    pub why: String,
}

impl Pattern {
    /// Parse `text` (see the module docs for the syntax).
    ///
    /// # Errors
    /// [`PatternError`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let error = |why: &str| PatternError {
            pattern: text.to_owned(),
            why: why.to_owned(),
        };
        let length = text.chars().count();
        if !(2..=520).contains(&length)
            || text
                .chars()
                .any(|character| character.is_control() || character.is_whitespace())
        {
            return Err(error(
                "it must be 2 to 520 characters without whitespace or control characters",
            ));
        }
        if text == ROOT {
            return Ok(Self::All);
        }
        let Some(path) = text.strip_prefix('/') else {
            return Err(error("it must start with `/`"));
        };
        let parts: Vec<&str> = path.split('/').collect();
        let Ok(parsed) = parts[0].parse::<Format>() else {
            let names: Vec<&str> = Format::ALL.iter().map(|format| format.name()).collect();
            return Err(error(&format!(
                "`{}` is not a package format (one of {})",
                parts[0],
                names.join(", ")
            )));
        };
        let rule = namespace_rule(parsed);
        let no_namespace = rule == NamespaceRule::Blank;
        let format = parsed.name().to_owned();
        let last = |component: &str| -> Result<(String, char), PatternError> {
            let suffix = component
                .chars()
                .last()
                .ok_or_else(|| error("it must end with `*`, `~` or `$`"))?;
            if !matches!(suffix, '*' | '~' | '$') {
                return Err(error("it must end with `*`, `~` or `$`"));
            }
            let stem = &component[..component.len() - suffix.len_utf8()];
            if stem.contains(['#', '*', '~', '$']) {
                return Err(error(
                    "`#`, `*`, `~` and `$` may only end the pattern, as its suffix",
                ));
            }
            Ok((stem.to_owned(), suffix))
        };
        let prefix = |stem: String, suffix: char| -> Result<Prefix, PatternError> {
            let Some(end) = stem.chars().last() else {
                return Err(error(
                    "a prefix needs at least one character before its suffix",
                ));
            };
            match suffix {
                '~' if is_word_character(end) => Ok(Prefix { stem, word: true }),
                '~' => Err(error(
                    "`~` follows a word character (a letter or a digit); after punctuation use `*`",
                )),
                '*' if !is_word_character(end) => Ok(Prefix { stem, word: false }),
                _ => Err(error(
                    "`*` after a word character is not a pattern; use `~` for a word prefix",
                )),
            }
        };
        match parts.as_slice() {
            [_, "*"] => Ok(Self::Format(format)),
            [_, component] => {
                if no_namespace {
                    return Err(error(&format!(
                        "{format} packages have no namespace: leave it blank, as in `/{format}//NAME$`"
                    )));
                }
                let (stem, suffix) = last(component)?;
                if suffix == '$' {
                    return Err(error(
                        "`$` ends a full package path (`/FORMAT/NAMESPACE/NAME$`)",
                    ));
                }
                Ok(Self::NamespacePrefix(format, prefix(stem, suffix)?))
            }
            [_, namespace, component] => {
                let namespace = (*namespace).to_owned();
                if no_namespace && !namespace.is_empty() {
                    return Err(error(&format!(
                        "{format} packages have no namespace: leave it blank, as in `/{format}//NAME$`"
                    )));
                }
                if namespace.contains(['#', '*', '~', '$']) {
                    return Err(error(
                        "`#`, `*`, `~` and `$` may only end the pattern, as its suffix",
                    ));
                }
                if *component == "*" {
                    return Ok(Self::Namespace(format, namespace));
                }
                if namespace.is_empty() && rule == NamespaceRule::Required {
                    return Err(error(&format!(
                        "a {format} pattern that names a package names its namespace too"
                    )));
                }
                let (stem, suffix) = last(component)?;
                if suffix == '$' {
                    if stem.is_empty() {
                        return Err(error("`$` follows the package name"));
                    }
                    return Ok(Self::Name(format, namespace, stem));
                }
                Ok(Self::NamePrefix(format, namespace, prefix(stem, suffix)?))
            }
            _ => Err(error(
                "it has at most three components: `/FORMAT/NAMESPACE/NAME` with a suffix",
            )),
        }
    }

    fn format(&self) -> Option<&str> {
        match self {
            Self::All => None,
            Self::Format(format)
            | Self::NamespacePrefix(format, _)
            | Self::Namespace(format, _)
            | Self::NamePrefix(format, _, _)
            | Self::Name(format, _, _) => Some(format),
        }
    }

    /// How specific the pattern is: deeper patterns first, then longer prefixes.
    fn specificity(&self) -> (u8, usize) {
        match self {
            Self::All => (0, 0),
            Self::Format(_) => (1, 0),
            Self::NamespacePrefix(_, prefix) => (2, prefix.stem.chars().count()),
            Self::Namespace(..) => (3, 0),
            Self::NamePrefix(_, _, prefix) => (4, prefix.stem.chars().count()),
            Self::Name(..) => (5, 0),
        }
    }

    /// How the package `format` / `namespace` / `name` matches, if it does.
    #[must_use]
    pub fn matches(&self, format: &str, namespace: &str, name: &str) -> Option<Strength> {
        if self.format().is_some_and(|own| own != format) {
            return None;
        }
        let exact = |expected: &str, value: &str| {
            if expected == value {
                Some(Strength::Strong)
            } else if normalize(expected) == normalize(value) {
                Some(Strength::Weak)
            } else {
                None
            }
        };
        let prefixed = |prefix: &Prefix, value: &str| {
            if prefix.accepts(value) {
                Some(Strength::Strong)
            } else if prefix.accepts_weakly(value) {
                Some(Strength::Weak)
            } else {
                None
            }
        };
        match self {
            Self::All | Self::Format(_) => Some(Strength::Strong),
            Self::NamespacePrefix(_, prefix) => {
                // An empty namespace is not a word the prefix can start.
                (!namespace.is_empty()).then(|| prefixed(prefix, namespace))?
            }
            Self::Namespace(_, expected) => exact(expected, namespace),
            Self::NamePrefix(_, expected, prefix) => {
                Some(exact(expected, namespace)?.min(prefixed(prefix, name)?))
            }
            Self::Name(_, expected_namespace, expected_name) => {
                Some(exact(expected_namespace, namespace)?.min(exact(expected_name, name)?))
            }
        }
    }

    /// Whether every package `other` matches is matched by `self` too, and `other` is not
    /// `self`: `self` is then one of `other`'s ancestors.
    #[must_use]
    pub fn contains(&self, other: &Self) -> bool {
        if self == other {
            return false;
        }
        let same_format = self.format().is_some() && self.format() == other.format();
        match self {
            Self::All => true,
            Self::Format(_) => same_format,
            Self::NamespacePrefix(_, prefix) => {
                same_format
                    && match other {
                        Self::NamespacePrefix(_, inner) => prefix.accepts(&inner.stem),
                        Self::Namespace(_, namespace)
                        | Self::NamePrefix(_, namespace, _)
                        | Self::Name(_, namespace, _) => {
                            !namespace.is_empty() && prefix.accepts(namespace)
                        }
                        Self::All | Self::Format(_) => false,
                    }
            }
            Self::Namespace(_, namespace) => {
                same_format
                    && matches!(other, Self::NamePrefix(_, inner, _) | Self::Name(_, inner, _) if inner == namespace)
            }
            Self::NamePrefix(_, namespace, prefix) => {
                same_format
                    && match other {
                        Self::NamePrefix(_, inner, inner_prefix) => {
                            inner == namespace && prefix.accepts(&inner_prefix.stem)
                        }
                        Self::Name(_, inner, name) => inner == namespace && prefix.accepts(name),
                        _ => false,
                    }
            }
            Self::Name(..) => false,
        }
    }
}

/// A stored group with its parsed pattern.
#[derive(Debug, Clone)]
pub struct Group {
    /// The stored row.
    pub row: PackageGroupRow,
    /// Its pattern, parsed.
    pub pattern: Pattern,
}

/// Where a restriction's effective mode comes from.
#[derive(Debug, Clone)]
pub struct Effective<'a> {
    /// The mode in force (never `INHERIT`).
    pub mode: Mode,
    /// The group that sets it (the group itself unless it inherits).
    pub source: &'a Group,
}

/// A domain's package groups, the root included (a default one when none is stored).
#[derive(Debug, Clone)]
pub struct Groups {
    groups: Vec<Group>,
}

impl Groups {
    /// The groups of `domain`, by pattern.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn load(connection: &Connection, domain: &str) -> Result<Self, super::index::Error> {
        let mut groups: Vec<Group> = store::package_groups(connection, domain)?
            .into_iter()
            .filter_map(|row| {
                Pattern::parse(&row.pattern)
                    .ok()
                    .map(|pattern| Group { row, pattern })
            })
            .collect();
        if !groups.iter().any(|group| group.pattern == Pattern::All) {
            groups.insert(
                0,
                Group {
                    row: root_row(domain, 0.0),
                    pattern: Pattern::All,
                },
            );
        }
        Ok(Self { groups })
    }

    /// These groups and `group` (what a domain would have once it is created).
    #[must_use]
    pub fn with(mut self, group: Group) -> Self {
        self.groups.push(group);
        self
    }

    /// Every group, by pattern.
    #[must_use]
    pub fn all(&self) -> &[Group] {
        &self.groups
    }

    /// The group with exactly this pattern.
    #[must_use]
    pub fn get(&self, pattern: &str) -> Option<&Group> {
        self.groups
            .iter()
            .find(|group| group.row.pattern == pattern)
    }

    /// The closest existing ancestor of `pattern` (none for the root).
    #[must_use]
    pub fn parent_of(&self, pattern: &Pattern) -> Option<&Group> {
        self.groups
            .iter()
            .filter(|group| group.pattern.contains(pattern))
            .max_by_key(|group| group.pattern.specificity())
    }

    /// The group a package belongs to and how it matches: the most specific matching
    /// pattern, a strong match winning a tie. The root matches every package.
    #[must_use]
    pub fn associated(&self, format: &str, namespace: &str, name: &str) -> (&Group, Strength) {
        self.groups
            .iter()
            .filter_map(|group| {
                group
                    .pattern
                    .matches(format, namespace, name)
                    .map(|strength| (group, strength))
            })
            .max_by_key(|(group, strength)| (group.pattern.specificity(), *strength))
            .unwrap_or((&self.groups[0], Strength::Strong))
    }

    /// `kind`'s mode in force for `group`, following `INHERIT` up its ancestors (the root,
    /// which cannot inherit, allows when it says `INHERIT` all the same).
    #[must_use]
    pub fn effective<'a>(&'a self, group: &'a Group, kind: RestrictionType) -> Effective<'a> {
        let mut current = group;
        // Each step moves to a strictly less specific group, so this ends.
        loop {
            let mode = kind.mode_of(&current.row);
            if mode != Mode::Inherit {
                return Effective {
                    mode,
                    source: current,
                };
            }
            match self.parent_of(&current.pattern) {
                Some(parent) => current = parent,
                None => {
                    return Effective {
                        mode: Mode::Allow,
                        source: current,
                    };
                }
            }
        }
    }

    /// Why `kind` may not bring `key`'s package into `repository`, or `None` when it may.
    ///
    /// # Errors
    /// SQLite errors (reading an allowed-repositories list).
    pub fn refusal(
        &self,
        connection: &Connection,
        key: &PackageKey,
        kind: RestrictionType,
        repository: &str,
    ) -> Result<Option<String>, super::index::Error> {
        let (group, strength) = self.associated(&key.format, &key.namespace, &key.package);
        let pattern = &group.row.pattern;
        if strength == Strength::Weak {
            return Ok(Some(format!(
                "`{}` only weakly matches package group `{pattern}` (it differs from the pattern by case or by `-`, `.`, `_`), so no origin may bring it in; create a package group for its exact name to allow it",
                package_path(key)
            )));
        }
        let effective = self.effective(group, kind);
        let inherited = if std::ptr::eq(effective.source, group) {
            String::new()
        } else {
            format!(", inherited from `{}`", effective.source.row.pattern)
        };
        let restriction = kind.name();
        Ok(match effective.mode {
            Mode::Allow | Mode::Inherit => None,
            Mode::Block => Some(format!(
                "package group `{pattern}` blocks {restriction} for `{}` ({restriction}=BLOCK{inherited})",
                package_path(key)
            )),
            Mode::AllowSpecificRepositories => {
                let allowed = store::package_group_repositories(
                    connection,
                    &key.domain,
                    &effective.source.row.pattern,
                    restriction,
                )?;
                if allowed.iter().any(|name| name == repository) {
                    None
                } else {
                    Some(format!(
                        "package group `{pattern}` allows {restriction} for `{}` only into its allowed repositories ({}), not `{repository}` ({restriction}=ALLOW_SPECIFIC_REPOSITORIES{inherited})",
                        package_path(key),
                        if allowed.is_empty() {
                            "none".to_owned()
                        } else {
                            allowed.join(", ")
                        }
                    ))
                }
            }
        })
    }
}

/// The root group of `domain` as every domain starts with it: all origins allowed.
#[must_use]
pub fn root_row(domain: &str, created: f64) -> PackageGroupRow {
    PackageGroupRow {
        domain: domain.to_owned(),
        pattern: ROOT.to_owned(),
        description: None,
        contact_info: None,
        created,
        publish: Mode::Allow.name().to_owned(),
        external_upstream: Mode::Allow.name().to_owned(),
        internal_upstream: Mode::Allow.name().to_owned(),
    }
}

/// A package's path as patterns spell it: `/FORMAT/NAMESPACE/NAME`.
#[must_use]
pub fn package_path(key: &PackageKey) -> String {
    format!("/{}/{}/{}", key.format, key.namespace, key.package)
}

/// Why `kind` may not bring `key`'s package into `repository` (see
/// [`Groups::refusal`]), loading the domain's groups first.
///
/// # Errors
/// SQLite errors.
pub fn refusal(
    connection: &Connection,
    key: &PackageKey,
    kind: RestrictionType,
    repository: &str,
) -> Result<Option<String>, super::index::Error> {
    Groups::load(connection, &key.domain)?.refusal(connection, key, kind, repository)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Pattern {
        Pattern::parse(text).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn patterns_parse_as_the_user_guide_writes_them() {
        assert_eq!(parse("/*"), Pattern::All);
        assert_eq!(parse("/npm/*"), Pattern::Format("npm".into()));
        assert!(matches!(
            parse("/maven/com.anycompany~"),
            Pattern::NamespacePrefix(..)
        ));
        assert_eq!(
            parse("/npm/space/*"),
            Pattern::Namespace("npm".into(), "space".into())
        );
        assert!(matches!(
            parse("/npm/space/anycompany-ui~"),
            Pattern::NamePrefix(..)
        ));
        assert_eq!(
            parse("/maven/org.apache.logging.log4j/log4j-core$"),
            Pattern::Name(
                "maven".into(),
                "org.apache.logging.log4j".into(),
                "log4j-core".into()
            )
        );
        assert_eq!(
            parse("/pypi//requests$"),
            Pattern::Name("pypi".into(), String::new(), "requests".into())
        );
        assert!(matches!(parse("/npm//foo-*"), Pattern::NamePrefix(..)));
        for invalid in [
            "npm/*",
            "/npm",
            "/unknown/*",
            "/npm/space",
            "/npm/space/name",
            "/npm/foo-~",
            "/npm/foo*",
            "/pypi/ns/*",
            "/pypi/ns~",
            "/maven//name$",
            "/npm/a/b/c$",
            "/npm/sp ace/*",
            "/npm/a$/b$",
        ] {
            assert!(Pattern::parse(invalid).is_err(), "{invalid} parsed");
        }
    }

    #[test]
    fn word_prefixes_end_at_word_boundaries_and_variations_match_weakly() {
        let pattern = parse("/npm/space/foo~");
        assert_eq!(
            pattern.matches("npm", "space", "foo"),
            Some(Strength::Strong)
        );
        assert_eq!(
            pattern.matches("npm", "space", "foo-bar"),
            Some(Strength::Strong)
        );
        assert_eq!(pattern.matches("npm", "space", "food"), None);
        assert_eq!(pattern.matches("npm", "space", "foot"), None);
        assert_eq!(pattern.matches("pypi", "space", "foo"), None);
        let exact = parse("/npm//anycompany-spicy-client$");
        assert_eq!(
            exact.matches("npm", "", "anycompany-spicy-client"),
            Some(Strength::Strong)
        );
        assert_eq!(
            exact.matches("npm", "", "AnyCompany_spicy..client"),
            Some(Strength::Weak)
        );
        assert_eq!(exact.matches("npm", "", "anycompanyspicyclient"), None);
        assert_eq!(
            parse("/maven/com.acme~").matches("maven", "com.acme.tools", "x"),
            Some(Strength::Strong)
        );
        assert_eq!(
            parse("/maven/com.acme~").matches("maven", "com.acmecorp", "x"),
            None
        );
    }

    fn group(pattern: &str, publish: Mode) -> Group {
        let mut row = root_row("d", 0.0);
        row.pattern = pattern.to_owned();
        for kind in RestrictionType::ALL {
            kind.set_mode(&mut row, Mode::Inherit);
        }
        RestrictionType::Publish.set_mode(&mut row, publish);
        Group {
            pattern: parse(pattern),
            row,
        }
    }

    #[test]
    fn the_most_specific_group_wins_and_inherit_walks_up_the_hierarchy() {
        let mut root = group("/*", Mode::Allow);
        for kind in RestrictionType::ALL {
            kind.set_mode(&mut root.row, Mode::Allow);
        }
        let groups = Groups {
            groups: vec![
                root,
                group("/npm/*", Mode::Block),
                group("/npm/space/*", Mode::Inherit),
                group("/npm/space/anycompany~", Mode::Allow),
                group("/npm//anycompany-spicy-client$", Mode::Allow),
            ],
        };
        let (found, _) = groups.associated("npm", "", "react");
        assert_eq!(found.row.pattern, "/npm/*");
        let (found, _) = groups.associated("npm", "space", "aui.components");
        assert_eq!(found.row.pattern, "/npm/space/*");
        let effective = groups.effective(found, RestrictionType::Publish);
        assert_eq!(effective.mode, Mode::Block);
        assert_eq!(effective.source.row.pattern, "/npm/*");
        let (found, _) = groups.associated("npm", "space", "anycompany-ui");
        assert_eq!(found.row.pattern, "/npm/space/anycompany~");
        assert_eq!(
            groups
                .parent_of(&parse("/npm/space/anycompany~"))
                .unwrap()
                .row
                .pattern,
            "/npm/space/*"
        );
        assert_eq!(
            groups.parent_of(&parse("/npm/*")).unwrap().row.pattern,
            "/*"
        );
        assert!(groups.parent_of(&Pattern::All).is_none());
        // A variation of the exact pattern belongs to it, weakly, not to `/npm/*`.
        let (found, strength) = groups.associated("npm", "", "AnyCompany-Spicy-Client");
        assert_eq!(found.row.pattern, "/npm//anycompany-spicy-client$");
        assert_eq!(strength, Strength::Weak);
        let (_, strength) = groups.associated("pypi", "", "requests");
        assert_eq!(strength, Strength::Strong);
    }
}
