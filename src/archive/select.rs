//! Selecting files under a base directory: glob patterns with `!` excludes, and
//! gitignore-style rule lists (what `npm pack` applies).
//!
//! Paths are compared as `/`-separated paths relative to the base directory. A pattern that
//! matches a directory selects everything beneath it (`dist` is `dist/**`). Nothing outside
//! the base directory is ever selected: a pattern that is absolute or climbs with `..` is
//! refused, and so is a symlink that resolves outside the base directory when the selection
//! would follow it. Symlinks inside the tree are followed (cycles are cut).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use glob::{MatchOptions, Pattern};

/// Why a selection failed.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// A pattern is absolute or climbs out of the base directory.
    #[error(
        "pattern `{pattern}` reaches outside the base directory `{base}`; patterns are relative to it and may not start with `/` or contain `..`"
    )]
    EscapingPattern {
        /// The pattern as given.
        pattern: String,
        /// The base directory.
        base: PathBuf,
    },
    /// A pattern is not valid glob syntax.
    #[error("invalid glob pattern `{pattern}`: {message}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// A selected symlink resolves outside the base directory.
    #[error(
        "`{path}` is a symlink to `{target}`, outside the base directory `{base}`; lading only packs files inside it"
    )]
    SymlinkOutside {
        /// The link, relative to the base.
        path: String,
        /// Where it points.
        target: PathBuf,
        /// The base directory.
        base: PathBuf,
    },
    /// The base directory or an entry could not be read.
    #[error("failed to read `{path}`")]
    Io {
        /// The path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Nothing matched.
    #[error("no file under `{base}` matches {patterns}")]
    Empty {
        /// The base directory.
        base: PathBuf,
        /// The patterns, quoted and comma-separated.
        patterns: String,
    },
}

/// A file picked for an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedFile {
    /// `/`-separated path relative to the base directory.
    pub relative: String,
    /// Where to read it.
    pub path: PathBuf,
    /// Whether any execute bit is set (becomes mode `0755`).
    pub executable: bool,
}

/// Decides what [`walk`] enters and keeps.
pub trait WalkFilter {
    /// Whether to enter directory `relative`.
    fn descend(&self, relative: &str) -> bool;
    /// Whether to keep file `relative`.
    fn keep(&self, relative: &str) -> bool;
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SelectError + '_ {
    move |source| SelectError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Walk `base`, returning the kept files sorted by relative path.
///
/// # Errors
/// [`SelectError::SymlinkOutside`] for a kept file or entered directory that resolves outside
/// `base`, [`SelectError::Io`] for unreadable entries.
pub fn walk(base: &Path, filter: &dyn WalkFilter) -> Result<Vec<SelectedFile>, SelectError> {
    let canonical_base = fs_err::canonicalize(base).map_err(io_error(base))?;
    let mut visited = BTreeSet::new();
    visited.insert(canonical_base.clone());
    let mut files = Vec::new();
    walk_dir(
        base,
        &canonical_base,
        base,
        "",
        filter,
        &mut visited,
        &mut files,
    )?;
    files.sort_by(|left, right| left.relative.cmp(&right.relative));
    Ok(files)
}

fn walk_dir(
    base: &Path,
    canonical_base: &Path,
    dir: &Path,
    prefix: &str,
    filter: &dyn WalkFilter,
    visited: &mut BTreeSet<PathBuf>,
    files: &mut Vec<SelectedFile>,
) -> Result<(), SelectError> {
    let mut entries: Vec<_> = fs_err::read_dir(dir)
        .map_err(io_error(dir))?
        .collect::<Result<_, _>>()
        .map_err(io_error(dir))?;
    entries.sort_by_key(fs_err::DirEntry::file_name);
    for entry in entries {
        let Some(name) = entry.file_name().to_str().map(ToOwned::to_owned) else {
            // Non-UTF-8 names cannot be written portably into an archive.
            continue;
        };
        let relative = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let path = entry.path();
        let link_metadata = fs_err::symlink_metadata(&path).map_err(io_error(&path))?;
        let is_link = link_metadata.file_type().is_symlink();
        let Ok(metadata) = fs_err::metadata(&path) else {
            // A dangling symlink selects nothing.
            continue;
        };
        if metadata.is_dir() {
            if !filter.descend(&relative) {
                continue;
            }
            let real = fs_err::canonicalize(&path).map_err(io_error(&path))?;
            if is_link && !real.starts_with(canonical_base) {
                return Err(SelectError::SymlinkOutside {
                    path: relative,
                    target: real,
                    base: base.to_path_buf(),
                });
            }
            if !visited.insert(real.clone()) {
                continue;
            }
            walk_dir(
                base,
                canonical_base,
                &path,
                &relative,
                filter,
                visited,
                files,
            )?;
            visited.remove(&real);
        } else if metadata.is_file() {
            if !filter.keep(&relative) {
                continue;
            }
            if is_link {
                let real = fs_err::canonicalize(&path).map_err(io_error(&path))?;
                if !real.starts_with(canonical_base) {
                    return Err(SelectError::SymlinkOutside {
                        path: relative,
                        target: real,
                        base: base.to_path_buf(),
                    });
                }
            }
            files.push(SelectedFile {
                relative,
                path,
                executable: is_executable(&metadata),
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_metadata: &std::fs::Metadata) -> bool {
    false
}

const MATCH_OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// The path and each of its ancestor directories: `a/b/c` → `a`, `a/b`, `a/b/c`.
fn prefixes(relative: &str) -> impl Iterator<Item = &str> {
    relative
        .match_indices('/')
        .map(|(index, _)| &relative[..index])
        .chain(std::iter::once(relative))
}

/// Refuse patterns that are absolute or climb with `..`.
fn check_contained(pattern: &str, base: &Path) -> Result<(), SelectError> {
    let escaping = pattern.starts_with('/')
        || pattern.starts_with('\\')
        || Path::new(pattern).components().any(|component| {
            matches!(
                component,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        })
        || pattern.split(['/', '\\']).any(|part| part == "..");
    if escaping {
        return Err(SelectError::EscapingPattern {
            pattern: pattern.to_owned(),
            base: base.to_path_buf(),
        });
    }
    Ok(())
}

fn compile(pattern: &str) -> Result<Pattern, SelectError> {
    Pattern::new(pattern).map_err(|error| SelectError::InvalidPattern {
        pattern: pattern.to_owned(),
        message: error.to_string(),
    })
}

/// Include and `!`-exclude glob patterns (`dist/**/*.js`, `!**/*.map`).
#[derive(Debug, Clone)]
pub struct GlobFilter {
    includes: Vec<Pattern>,
    excludes: Vec<Pattern>,
    /// Literal leading directories of each include, to avoid walking unrelated trees.
    include_roots: Vec<String>,
}

impl GlobFilter {
    /// Compile patterns; those starting with `!` exclude. No include means "everything".
    ///
    /// # Errors
    /// [`SelectError::EscapingPattern`] or [`SelectError::InvalidPattern`].
    ///
    /// ```
    /// use lading::archive::{GlobFilter, WalkFilter};
    /// let filter = GlobFilter::new(std::path::Path::new("."), &["dist/**/*.js".into(), "!**/*.map".into()]).unwrap();
    /// assert!(filter.keep("dist/a/b.js"));
    /// assert!(!filter.keep("src/b.js"));
    /// assert!(GlobFilter::new(std::path::Path::new("."), &["../x".into()]).is_err());
    /// ```
    pub fn new(base: &Path, patterns: &[String]) -> Result<Self, SelectError> {
        let mut includes = Vec::new();
        let mut excludes = Vec::new();
        let mut include_roots = Vec::new();
        for pattern in patterns {
            let (negated, body) = match pattern.strip_prefix('!') {
                Some(body) => (true, body),
                None => (false, pattern.as_str()),
            };
            let body = body.strip_prefix("./").unwrap_or(body);
            let body = body.trim_end_matches('/');
            check_contained(body, base)?;
            if body.is_empty() {
                return Err(SelectError::InvalidPattern {
                    pattern: pattern.clone(),
                    message: "empty pattern".to_owned(),
                });
            }
            let compiled = compile(body)?;
            if negated {
                excludes.push(compiled);
            } else {
                let root: Vec<&str> = body
                    .split('/')
                    .take_while(|part| !part.contains(['*', '?', '[', ']']))
                    .collect();
                include_roots.push(root.join("/"));
                includes.push(compiled);
            }
        }
        if includes.is_empty() {
            includes.push(compile("**")?);
            include_roots.push(String::new());
        }
        Ok(Self {
            includes,
            excludes,
            include_roots,
        })
    }

    fn excluded(&self, relative: &str) -> bool {
        prefixes(relative).any(|prefix| {
            self.excludes
                .iter()
                .any(|pattern| pattern.matches_with(prefix, MATCH_OPTIONS))
        })
    }
}

impl WalkFilter for GlobFilter {
    fn descend(&self, relative: &str) -> bool {
        if self.excluded(relative) {
            return false;
        }
        self.include_roots.iter().any(|root| {
            root.is_empty()
                || root == relative
                || root.starts_with(&format!("{relative}/"))
                || relative.starts_with(&format!("{root}/"))
        })
    }

    fn keep(&self, relative: &str) -> bool {
        !self.excluded(relative)
            && prefixes(relative).any(|prefix| {
                self.includes
                    .iter()
                    .any(|pattern| pattern.matches_with(prefix, MATCH_OPTIONS))
            })
    }
}

/// Select files under `base` by glob patterns; an empty result is an error unless allowed.
///
/// # Errors
/// See [`GlobFilter::new`] and [`walk`]; [`SelectError::Empty`] when nothing matched and
/// `allow_empty` is false.
pub fn select(
    base: &Path,
    patterns: &[String],
    allow_empty: bool,
) -> Result<Vec<SelectedFile>, SelectError> {
    let filter = GlobFilter::new(base, patterns)?;
    let files = walk(base, &filter)?;
    if files.is_empty() && !allow_empty {
        return Err(SelectError::Empty {
            base: base.to_path_buf(),
            patterns: patterns
                .iter()
                .map(|pattern| format!("`{pattern}`"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(files)
}

/// One gitignore-style rule.
#[derive(Debug, Clone)]
struct Rule {
    negated: bool,
    directory_only: bool,
    pattern: Pattern,
}

/// An ordered list of gitignore-style rules (`.npmignore` syntax): the last rule matching a
/// path decides; `!` re-includes; a leading `/` or an inner `/` anchors to the base, otherwise
/// the rule matches a name at any depth; a trailing `/` matches directories only.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

impl IgnoreRules {
    /// Append rules from gitignore text; lines that are not valid globs are skipped, as git
    /// and npm skip them.
    pub fn add_text(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            self.add(line);
        }
    }

    /// Append one rule.
    pub fn add(&mut self, rule: &str) {
        let (negated, body) = match rule.strip_prefix('!') {
            Some(body) => (true, body),
            None => (false, rule),
        };
        let body = body.strip_prefix("./").unwrap_or(body);
        let directory_only = body.ends_with('/');
        let body = body.trim_end_matches('/');
        let anchored = body.contains('/');
        let body = body.trim_start_matches('/');
        if body.is_empty() {
            return;
        }
        let glob = if anchored {
            body.to_owned()
        } else {
            format!("**/{body}")
        };
        if let Ok(pattern) = Pattern::new(&glob) {
            self.rules.push(Rule {
                negated,
                directory_only,
                pattern,
            });
        }
    }

    /// `Some(true)` when the last matching rule ignores the path, `Some(false)` when it
    /// re-includes it, `None` when no rule matches.
    #[must_use]
    pub fn verdict(&self, relative: &str, is_dir: bool) -> Option<bool> {
        self.rules
            .iter()
            .rev()
            .find(|rule| {
                (is_dir || !rule.directory_only)
                    && rule.pattern.matches_with(relative, MATCH_OPTIONS)
            })
            .map(|rule| !rule.negated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, b"x").unwrap();
    }

    #[test]
    fn includes_excludes_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "dist/a.js",
            "dist/a.js.map",
            "dist/sub/b.js",
            "src/c.js",
            "README.md",
        ] {
            touch(&dir.path().join(file));
        }
        let names = |patterns: &[&str]| {
            let patterns: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
            select(dir.path(), &patterns, true)
                .unwrap()
                .into_iter()
                .map(|file| file.relative)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&["dist/**/*.js"]), ["dist/a.js", "dist/sub/b.js"]);
        assert_eq!(
            names(&["dist", "!**/*.map"]),
            ["dist/a.js", "dist/sub/b.js"]
        );
        assert_eq!(names(&["**/*.js", "!dist/sub"]), ["dist/a.js", "src/c.js"]);
        assert!(matches!(
            select(dir.path(), &["nothing/*".to_owned()], false),
            Err(SelectError::Empty { .. })
        ));
        for bad in ["../x/*", "/etc/passwd", "dist/../../x", "!../y"] {
            assert!(
                matches!(
                    select(dir.path(), &[bad.to_owned()], true),
                    Err(SelectError::EscapingPattern { .. })
                ),
                "{bad}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_tree_are_refused_only_when_selected() {
        let outside = tempfile::tempdir().unwrap();
        touch(&outside.path().join("secret.txt"));
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("dist/a.js"));
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            dir.path().join("dist/leak.js"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("other")).unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("dist/a.js"),
            dir.path().join("dist/inside.js"),
        )
        .unwrap();
        let error = select(dir.path(), &["dist/*.js".to_owned()], false).unwrap_err();
        assert!(
            matches!(error, SelectError::SymlinkOutside { ref path, .. } if path == "dist/leak.js"),
            "{error}"
        );
        let kept = select(
            dir.path(),
            &["dist/*.js".to_owned(), "!dist/leak.js".to_owned()],
            false,
        )
        .unwrap();
        assert_eq!(kept.len(), 2);
        assert!(matches!(
            select(dir.path(), &["**/*.txt".to_owned()], true),
            Err(SelectError::SymlinkOutside { ref path, .. }) if path == "other"
        ));
    }

    /// A chain of links that ends outside is refused like a direct one; a link back to an
    /// ancestor directory is walked once, not forever.
    #[cfg(unix)]
    #[test]
    fn symlink_chains_out_are_refused_and_loops_end() {
        let outside = tempfile::tempdir().unwrap();
        touch(&outside.path().join("secret.txt"));
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("dist/a.js"));
        std::os::unix::fs::symlink("..", dir.path().join("dist/up")).unwrap();
        std::os::unix::fs::symlink(".", dir.path().join("dist/self")).unwrap();
        let files = select(dir.path(), &["dist/**".to_owned()], false).unwrap();
        let names: Vec<_> = files.iter().map(|file| file.relative.as_str()).collect();
        assert_eq!(names, ["dist/a.js"]);
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            dir.path().join("hop.txt"),
        )
        .unwrap();
        std::os::unix::fs::symlink("../hop.txt", dir.path().join("dist/chain.js")).unwrap();
        let error = select(dir.path(), &["dist/*.js".to_owned()], false).unwrap_err();
        assert!(
            matches!(error, SelectError::SymlinkOutside { ref path, .. } if path == "dist/chain.js"),
            "{error}"
        );
    }

    #[test]
    fn ignore_rules_follow_gitignore_precedence() {
        let mut rules = IgnoreRules::default();
        rules.add_text("# comment\n*.log\n!keep.log\n/build/\ndocs/*.md\n");
        assert_eq!(rules.verdict("a/b/x.log", false), Some(true));
        assert_eq!(rules.verdict("keep.log", false), Some(false));
        assert_eq!(rules.verdict("build", true), Some(true));
        assert_eq!(rules.verdict("build", false), None);
        assert_eq!(rules.verdict("src/build", true), None);
        assert_eq!(rules.verdict("docs/a.md", false), Some(true));
        assert_eq!(rules.verdict("x/docs/a.md", false), None);
    }
}
