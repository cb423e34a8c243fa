//! The npm tarball: the files `npm pack` would include, under `package/`, reproducibly.
//!
//! File selection follows npm-packlist (npm 11): default ignores (`.git`, `.npmrc`, `*.orig`,
//! …), then `package.json` `files` (or else the root `.npmignore`, or else `.gitignore`),
//! then the strict rules: `node_modules` and lockfiles never go in; `package.json`, README,
//! LICENSE/LICENCE and COPYING at the root, the `main`, `browser` and `bin` files always do.
//! Ignore files in subdirectories are not read (npm reads them); the acceptance test
//! compares the list with `npm pack --dry-run --json`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::PackageName;
use crate::archive::{
    ArchiveError, Entry, IgnoreRules, SelectError, SelectedFile, SourceDate, WalkFilter, walk,
};
use crate::ecosystem::{Packed, PackedContents, PackedFile, file_stem};

/// Why an npm package could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum NpmPackError {
    /// `package.json` is missing or unreadable.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `package.json` is not a JSON object.
    #[error("`{path}` is not valid JSON: {message}")]
    InvalidJson {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A required field is missing.
    #[error("`{path}` has no `{field}`; npm packages need a name and a version")]
    MissingField {
        /// The file.
        path: PathBuf,
        /// `name` or `version`.
        field: &'static str,
    },
    /// The name is not a valid npm name.
    #[error(transparent)]
    InvalidName(#[from] super::InvalidName),
    /// The name differs from what the command line asked for.
    #[error("`{path}` names the package `{found}`, but `{expected}` was asked for")]
    NameMismatch {
        /// The file.
        path: PathBuf,
        /// From package.json.
        found: String,
        /// From `--name`.
        expected: String,
    },
    /// The version is not semver.
    #[error("`{version}` is not a valid npm (semver) version")]
    InvalidVersion {
        /// The version.
        version: String,
    },
    /// Walking the directory failed.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// Writing the tarball failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// npm-packlist's default ignore rules.
const DEFAULT_RULES: &[&str] = &[
    ".npmignore",
    ".gitignore",
    "**/.git",
    "**/.svn",
    "**/.hg",
    "**/CVS",
    "/.lock-wscript",
    "/.wafpickle-*",
    "/build/config.gypi",
    "npm-debug.log",
    "**/.npmrc",
    ".*.swp",
    ".DS_Store",
    "._*",
    "*.orig",
    "/archived-packages/",
];

/// Strict rules that no `files` or `.npmignore` entry can override.
const STRICT_IGNORES: &[&str] = &[
    "/.git",
    "/node_modules",
    ".npmrc",
    "/package-lock.json",
    "/yarn.lock",
    "/pnpm-lock.yaml",
    "/bun.lockb",
];

/// Whether a root file is one npm always includes (package.json, README, LICENSE, …).
fn always_included(relative: &str) -> bool {
    if relative.contains('/') {
        return false;
    }
    if relative == "package.json" {
        return true;
    }
    let lower = relative.to_ascii_lowercase();
    ["readme", "copying", "license", "licence"]
        .iter()
        .any(|stem| {
            lower == *stem
                || lower
                    .strip_prefix(stem)
                    .and_then(|rest| rest.strip_prefix('.'))
                    .is_some_and(|extension| !extension.ends_with(['~', '$']))
        })
}

fn normalize(path: &str) -> String {
    path.trim_start_matches("./")
        .trim_start_matches('/')
        .to_owned()
}

/// The npm-packlist filter for one package directory.
struct PackList {
    rules: IgnoreRules,
    /// The unanchored defaults again: npm applies them afresh in every subdirectory, after
    /// the parent's `files` re-includes (`lib/.npmignore` stays out of `files: ["lib"]`).
    nested_defaults: IgnoreRules,
    strict: IgnoreRules,
    forced: Vec<String>,
}

impl PackList {
    fn new(dir: &Path, manifest: &Value) -> Self {
        let mut rules = IgnoreRules::default();
        for rule in DEFAULT_RULES {
            rules.add(rule);
        }
        let mut forced = Vec::new();
        if let Some(files) = manifest.get("files").and_then(Value::as_array) {
            rules.add("*");
            for file in files.iter().filter_map(Value::as_str) {
                let mut file = file
                    .strip_prefix('.')
                    .filter(|rest| rest.starts_with('/'))
                    .unwrap_or(file)
                    .to_owned();
                if file.ends_with("/*") {
                    file.push('*');
                }
                let bare = normalize(file.trim_start_matches('!'));
                let negation = if file.starts_with('!') { "" } else { "!" };
                let target = dir.join(&bare);
                if target.is_file() && negation == "!" {
                    forced.push(bare);
                } else {
                    rules.add(&format!("{negation}{}", file.trim_start_matches('!')));
                    if target.is_dir() {
                        rules.add(&format!(
                            "{negation}{}/**",
                            file.trim_start_matches('!').trim_end_matches('/')
                        ));
                    }
                }
            }
        } else if let Ok(text) = fs_err::read_to_string(dir.join(".npmignore")) {
            rules.add_text(&text);
        } else if let Ok(text) = fs_err::read_to_string(dir.join(".gitignore")) {
            rules.add_text(&text);
        }
        let mut strict = IgnoreRules::default();
        for rule in STRICT_IGNORES {
            strict.add(rule);
        }
        for field in ["main", "browser"] {
            if let Some(path) = manifest.get(field).and_then(Value::as_str) {
                forced.push(normalize(path));
            }
        }
        match manifest.get("bin") {
            Some(Value::String(path)) => forced.push(normalize(path)),
            Some(Value::Object(bins)) => {
                forced.extend(bins.values().filter_map(Value::as_str).map(normalize));
            }
            _ => {}
        }
        let mut nested_defaults = IgnoreRules::default();
        for rule in DEFAULT_RULES.iter().filter(|rule| !rule.starts_with('/')) {
            nested_defaults.add(rule);
        }
        Self {
            rules,
            nested_defaults,
            strict,
            forced,
        }
    }

    fn ignored(&self, relative: &str, is_dir: bool) -> bool {
        // The last rule matching the path or one of its parent directories decides.
        let mut ignored = false;
        let parents: Vec<&str> = relative
            .match_indices('/')
            .map(|(index, _)| &relative[..index])
            .collect();
        for (index, rules) in [&self.rules, &self.strict].into_iter().enumerate() {
            for parent in &parents {
                if let Some(verdict) = rules.verdict(parent, true) {
                    ignored = verdict;
                }
            }
            if let Some(verdict) = rules.verdict(relative, is_dir) {
                ignored = verdict;
            }
            if index == 0
                && relative.contains('/')
                && self.nested_defaults.verdict(relative, is_dir) == Some(true)
            {
                ignored = true;
            }
        }
        ignored
    }
}

impl WalkFilter for PackList {
    fn descend(&self, relative: &str) -> bool {
        // Never walk into dependencies or VCS metadata; other ignored directories are still
        // walked because a later `!` rule may re-include files inside them.
        let name = relative.rsplit('/').next().unwrap_or(relative);
        !(relative == "node_modules" || matches!(name, ".git" | ".svn" | ".hg" | "CVS"))
    }

    fn keep(&self, relative: &str) -> bool {
        if self.strict.verdict(relative, false) == Some(true)
            || relative.starts_with("node_modules/")
        {
            return false;
        }
        always_included(relative)
            || self.forced.iter().any(|forced| forced == relative)
            || !self.ignored(relative, false)
    }
}

/// Read and check `package.json` in `dir`.
///
/// # Errors
/// [`NpmPackError`] for a missing file, bad JSON, or a missing name or version (unless
/// `version_override` supplies one).
pub fn read_manifest(
    dir: &Path,
    version_override: Option<&str>,
) -> Result<(Value, String, PackageName, String), NpmPackError> {
    let path = dir.join("package.json");
    let text = fs_err::read_to_string(&path).map_err(|source| NpmPackError::Read {
        path: path.clone(),
        source,
    })?;
    let manifest: Value =
        serde_json::from_str(&text).map_err(|error| NpmPackError::InvalidJson {
            path: path.clone(),
            message: error.to_string(),
        })?;
    if !manifest.is_object() {
        return Err(NpmPackError::InvalidJson {
            path,
            message: "the top level is not an object".to_owned(),
        });
    }
    let name = manifest
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| NpmPackError::MissingField {
            path: path.clone(),
            field: "name",
        })?;
    let name = PackageName::parse(name)?;
    let version = match version_override {
        Some(version) => version.to_owned(),
        None => manifest
            .get("version")
            .and_then(Value::as_str)
            .filter(|version| !version.is_empty())
            .ok_or(NpmPackError::MissingField {
                path: path.clone(),
                field: "version",
            })?
            .to_owned(),
    };
    if !is_semver(&version) {
        return Err(NpmPackError::InvalidVersion { version });
    }
    Ok((manifest, text, name, version))
}

/// The files `npm pack` would put in the tarball, sorted.
///
/// # Errors
/// [`NpmPackError`].
pub fn packlist(dir: &Path, manifest: &Value) -> Result<Vec<SelectedFile>, NpmPackError> {
    Ok(walk(dir, &PackList::new(dir, manifest))?)
}

/// Pack the npm package in `dir`. `expected_name` (from `--name`) must match `package.json`;
/// `version_override` replaces its version in the packed copy only.
///
/// # Errors
/// [`NpmPackError`].
pub fn pack(
    dir: &Path,
    expected_name: Option<&str>,
    version_override: Option<&str>,
    date: SourceDate,
) -> Result<Packed, NpmPackError> {
    let (manifest, text, name, version) = read_manifest(dir, version_override)?;
    if let Some(expected) = expected_name
        && expected != name.to_string()
    {
        return Err(NpmPackError::NameMismatch {
            path: dir.join("package.json"),
            found: name.to_string(),
            expected: expected.to_owned(),
        });
    }
    let files = packlist(dir, &manifest)?;
    let original_version = manifest.get("version").and_then(Value::as_str);
    let package_json = if original_version == Some(version.as_str()) {
        text.into_bytes()
    } else {
        set_version(&text, original_version, &version).into_bytes()
    };
    let mut entries: Vec<Entry> = files
        .iter()
        .map(|file| {
            if file.relative == "package.json" {
                Entry::bytes("package/package.json", package_json.clone())
            } else {
                Entry::file(
                    format!("package/{}", file.relative),
                    file.path.clone(),
                    file.executable,
                )
            }
        })
        .collect();
    crate::archive::sort_entries(&mut entries);
    let bytes = crate::archive::write_tar_gz(&entries, date, Vec::new())?;
    let full_name = name.to_string();
    Ok(Packed {
        stem: file_stem(&full_name, &version),
        files: vec![PackedFile {
            // `npm pack` names scoped tarballs `scope-name-version.tgz`.
            file_name: format!("{}.tgz", file_stem(&full_name, &version)),
            contents: PackedContents::Bytes(bytes),
            purl: Some(super::lockfile::purl(&full_name, &version)),
        }],
        name: full_name,
        version,
    })
}

/// Replace the top-level `"version"` value in package.json text, keeping its formatting.
fn set_version(text: &str, old: Option<&str>, new: &str) -> String {
    if let Some(old) = old {
        let needle = format!("\"{old}\"");
        if let Some(key) = text.find("\"version\"")
            && let Some(offset) = text[key..].find(&needle)
        {
            let start = key + offset;
            return format!(
                "{}\"{new}\"{}",
                &text[..start],
                &text[start + needle.len()..]
            );
        }
    }
    match text.find('{') {
        Some(brace) => format!(
            "{}\n  \"version\": \"{new}\",{}",
            &text[..=brace],
            &text[brace + 1..]
        ),
        None => text.to_owned(),
    }
}

/// `MAJOR.MINOR.PATCH(-pre)?(+build)?` with no leading zeros in the numbers.
#[must_use]
pub fn is_semver(version: &str) -> bool {
    let (core, _build) = version.split_once('+').unwrap_or((version, ""));
    let (core, pre) = match core.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (core, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    numbers.len() == 3
        && numbers.iter().all(|number| {
            !number.is_empty()
                && number.bytes().all(|byte| byte.is_ascii_digit())
                && (number.len() == 1 || !number.starts_with('0'))
        })
        && pre.is_none_or(|pre| {
            pre.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
            })
        })
}

impl crate::ecosystem::pack::Pack for super::Npm {
    fn pack(&self, request: &crate::ecosystem::pack::PackRequest<'_>) -> anyhow::Result<Packed> {
        use anyhow::Context as _;
        if !request.patterns.is_empty() {
            anyhow::bail!(crate::diagnostics::HintedError::new(
                "`--format npm` takes no patterns: files are chosen as `npm pack` does",
                "use `files` in package.json or an `.npmignore` to choose the files"
            ));
        }
        pack(request.base, request.name, request.version, request.date).with_context(|| {
            format!(
                "failed to pack the npm package in `{}`",
                request.base.display()
            )
        })
    }

    fn default_lockfile(&self, base: &Path) -> Option<PathBuf> {
        Some(base.join("package-lock.json")).filter(|path| path.is_file())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, text: &str) {
        let path = dir.join(file);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }

    fn list(dir: &Path) -> Vec<String> {
        let (manifest, ..) = read_manifest(dir, None).unwrap();
        packlist(dir, &manifest)
            .unwrap()
            .into_iter()
            .map(|file| file.relative)
            .collect()
    }

    #[test]
    fn files_field_limits_the_tarball_but_keeps_the_always_included() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "package.json",
            r#"{"name":"x","version":"1.0.0","files":["dist"],"main":"index.js","bin":{"x":"bin/x.js"}}"#,
        );
        for file in [
            "dist/a.js",
            "dist/sub/b.js",
            "src/c.js",
            "index.js",
            "bin/x.js",
            "README.md",
            "LICENSE",
            "package-lock.json",
            "node_modules/y/index.js",
            ".npmrc",
        ] {
            write(dir.path(), file, "x");
        }
        assert_eq!(
            list(dir.path()),
            [
                "LICENSE",
                "README.md",
                "bin/x.js",
                "dist/a.js",
                "dist/sub/b.js",
                "index.js",
                "package.json"
            ]
        );
    }

    #[test]
    fn npmignore_applies_without_files() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "package.json",
            r#"{"name":"x","version":"1.0.0"}"#,
        );
        write(dir.path(), ".npmignore", "*.map\ntest/\n");
        write(dir.path(), ".gitignore", "dist\n");
        for file in [
            "dist/a.js",
            "dist/a.js.map",
            "test/t.js",
            "index.js",
            "x.orig",
        ] {
            write(dir.path(), file, "x");
        }
        assert_eq!(list(dir.path()), ["dist/a.js", "index.js", "package.json"]);
    }

    #[test]
    fn missing_version_is_an_error_unless_overridden() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "package.json", "{\n  \"name\": \"x\"\n}\n");
        assert!(matches!(
            read_manifest(dir.path(), None),
            Err(NpmPackError::MissingField {
                field: "version",
                ..
            })
        ));
        assert_eq!(read_manifest(dir.path(), Some("2.0.0")).unwrap().3, "2.0.0");
        assert_eq!(
            set_version(
                "{\n  \"name\": \"x\",\n  \"version\": \"1.0.0\"\n}",
                Some("1.0.0"),
                "2.0.0"
            ),
            "{\n  \"name\": \"x\",\n  \"version\": \"2.0.0\"\n}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn packlist_refuses_a_symlink_out_of_the_package() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret.txt", "secret");
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "package.json",
            r#"{"name":"a","version":"1.0.0"}"#,
        );
        write(dir.path(), "lib/index.js", "");
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            dir.path().join("lib/leak.js"),
        )
        .unwrap();
        let manifest = serde_json::json!({"name": "a", "version": "1.0.0"});
        let error = packlist(dir.path(), &manifest).unwrap_err();
        assert!(error.to_string().contains("is a symlink to"), "{error}");
    }

    #[test]
    fn semver_check() {
        assert!(is_semver("1.2.3"));
        assert!(is_semver("1.2.3-rc.1+build.5"));
        assert!(!is_semver("1.2"));
        assert!(!is_semver("01.2.3"));
        assert!(!is_semver("v1.2.3"));
    }
}
