//! `package-lock.json` (v1, v2, v3) and `npm-shrinkwrap.json`: the registry packages a
//! lockfile pins, with their `resolved` URL (absent under `omit-lockfile-registry-resolved`)
//! and SRI `integrity`.
//!
//! v2/v3 list every install path under `packages` (workspace folders included, as entries
//! without `node_modules/` that npm links); v1 has only the nested `dependencies` tree. Links,
//! bundled entries (they ship inside their parent's tarball) and non-registry sources (git,
//! file, remote tarballs without integrity) are not registry downloads and are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// A lockfile that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LockfileError {
    /// I/O.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not JSON.
    #[error("`{path}:{line}:{column}` is not valid JSON: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// JSON, but not a lockfile npm would accept.
    #[error("`{path}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One registry package a lockfile pins.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LockedPackage {
    /// The real package name (an alias `foo: npm:bar@1` gives `bar`).
    pub name: String,
    /// The exact version.
    pub version: String,
    /// The lockfile's `resolved` URL, when present.
    pub resolved: Option<String>,
    /// The lockfile's SRI `integrity`, when present.
    pub integrity: Option<String>,
}

impl LockedPackage {
    /// `name@version`.
    #[must_use]
    pub fn spec(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The integrity's digests as algorithm → lowercase hex (`sha512`, `sha1`, …).
    #[must_use]
    pub fn digests(&self) -> BTreeMap<String, String> {
        use base64::Engine as _;
        self.integrity
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|sri| {
                let (algorithm, encoded) = sri.split_once('-')?;
                let encoded = encoded.split('?').next()?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()?;
                Some((algorithm.to_owned(), hex::encode(bytes)))
            })
            .collect()
    }

    /// `pkg:npm/%40scope/name@version`.
    #[must_use]
    pub fn purl(&self) -> String {
        purl(&self.name, &self.version)
    }
}

/// The package URL of an npm package version.
///
/// ```
/// assert_eq!(lading::ecosystem::npm::lockfile::purl("@acme/tool", "1.2.3"), "pkg:npm/%40acme/tool@1.2.3");
/// ```
#[must_use]
pub fn purl(name: &str, version: &str) -> String {
    match name.strip_prefix('@') {
        Some(scoped) => format!("pkg:npm/%40{scoped}@{version}"),
        None => format!("pkg:npm/{name}@{version}"),
    }
}

/// The lockfile's registry packages as provenance `resolvedDependencies`: `uri` is the purl,
/// `digest` the integrity's digests in hex, sorted and de-duplicated.
///
/// # Errors
/// [`LockfileError`].
pub fn resolved_dependencies(
    path: &Path,
) -> Result<Vec<crate::provenance::ResourceDescriptor>, LockfileError> {
    let mut descriptors: Vec<crate::provenance::ResourceDescriptor> = read(path)?
        .packages
        .iter()
        .map(|package| crate::provenance::ResourceDescriptor {
            name: None,
            uri: Some(package.purl()),
            digest: package.digests(),
            annotations: BTreeMap::new(),
        })
        .collect();
    descriptors.sort_by(|left, right| {
        left.uri
            .cmp(&right.uri)
            .then(left.digest.cmp(&right.digest))
    });
    descriptors.dedup();
    Ok(descriptors)
}

/// What a lockfile pins, deduplicated, plus what was skipped and why.
#[derive(Debug, Clone, Default)]
pub struct Lockfile {
    /// `lockfileVersion`.
    pub version: u64,
    /// Registry packages, sorted and deduplicated.
    pub packages: Vec<LockedPackage>,
    /// Entries that are not registry downloads (`path: reason`).
    pub skipped: Vec<String>,
}

/// Read and parse a lockfile.
///
/// # Errors
/// [`LockfileError`] naming the file and, for bad JSON, line and column.
pub fn read(path: &Path) -> Result<Lockfile, LockfileError> {
    let text = fs_err::read_to_string(path).map_err(|source| LockfileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text).map_err(|error| match error {
        ParseError::Json(error) => LockfileError::Json {
            path: path.to_path_buf(),
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        },
        ParseError::Invalid(message) => LockfileError::Invalid {
            path: path.to_path_buf(),
            message,
        },
    })
}

/// Why a lockfile text did not parse.
#[derive(Debug)]
pub enum ParseError {
    /// Not JSON.
    Json(serde_json::Error),
    /// Not a lockfile.
    Invalid(String),
}

/// Parse lockfile text.
///
/// # Errors
/// [`ParseError`].
pub fn parse(text: &str) -> Result<Lockfile, ParseError> {
    let document: Value = serde_json::from_str(text).map_err(ParseError::Json)?;
    let version = document
        .get("lockfileVersion")
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            ParseError::Invalid("no `lockfileVersion`: not a package-lock.json".to_owned())
        })?;
    let mut found = BTreeSet::new();
    let mut skipped = Vec::new();
    match (version, document.get("packages")) {
        (2.., Some(Value::Object(packages))) => {
            for (path, entry) in packages {
                if path.is_empty() {
                    continue;
                }
                let Some((_, tail)) = path.rsplit_once("node_modules/") else {
                    // A workspace folder: its files are in the repository, npm links it.
                    continue;
                };
                let name = entry
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(tail)
                    .to_owned();
                classify(path, &name, entry, &mut found, &mut skipped);
            }
        }
        (1, _) => walk_v1(document.get("dependencies"), "", &mut found, &mut skipped),
        (2.., _) => {
            return Err(ParseError::Invalid(format!(
                "`lockfileVersion` is {version} but there is no `packages` object"
            )));
        }
        (0, _) => {
            return Err(ParseError::Invalid(
                "`lockfileVersion` 0 is not a version npm wrote".to_owned(),
            ));
        }
    }
    Ok(Lockfile {
        version,
        packages: found.into_iter().collect(),
        skipped,
    })
}

fn walk_v1(
    dependencies: Option<&Value>,
    prefix: &str,
    found: &mut BTreeSet<LockedPackage>,
    skipped: &mut Vec<String>,
) {
    let Some(Value::Object(dependencies)) = dependencies else {
        return;
    };
    for (key, entry) in dependencies {
        let path = format!("{prefix}node_modules/{key}");
        if entry.get("bundled").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let version = entry.get("version").and_then(Value::as_str).unwrap_or("");
        // v1 aliases: `"version": "npm:real-name@1.2.3"`.
        let (name, version) = match version.strip_prefix("npm:").and_then(|rest| {
            let at = rest[1..].find('@')? + 1;
            Some((rest[..at].to_owned(), rest[at + 1..].to_owned()))
        }) {
            Some((name, version)) => (name, version),
            None => (key.clone(), version.to_owned()),
        };
        let mut normalized = entry.clone();
        if let Value::Object(map) = &mut normalized {
            map.insert("version".to_owned(), Value::String(version));
        }
        classify(&path, &name, &normalized, found, skipped);
        walk_v1(
            entry.get("dependencies"),
            &format!("{path}/"),
            found,
            skipped,
        );
    }
}

fn classify(
    path: &str,
    name: &str,
    entry: &Value,
    found: &mut BTreeSet<LockedPackage>,
    skipped: &mut Vec<String>,
) {
    let text = |field: &str| entry.get(field).and_then(Value::as_str).map(str::to_owned);
    if entry.get("link").and_then(Value::as_bool) == Some(true)
        || entry.get("inBundle").and_then(Value::as_bool) == Some(true)
    {
        return;
    }
    // An optional package for another OS or CPU (esbuild's, swc's): npm skips it here.
    if entry.get("optional").and_then(Value::as_bool) == Some(true)
        && !super::for_this_platform(entry)
    {
        return;
    }
    let Some(version) = text("version") else {
        skipped.push(format!("{path}: no version"));
        return;
    };
    let resolved = text("resolved");
    if let Some(resolved) = &resolved
        && !(resolved.starts_with("https://") || resolved.starts_with("http://"))
    {
        skipped.push(format!("{path}: `{resolved}` is not a registry tarball"));
        return;
    }
    if semver_like(&version).is_none() {
        skipped.push(format!("{path}: `{version}` is not a registry version"));
        return;
    }
    let integrity = text("integrity");
    if resolved.is_some()
        && integrity.is_none()
        && !looks_like_registry_tarball(resolved.as_deref())
    {
        skipped.push(format!("{path}: a remote tarball without `integrity`"));
        return;
    }
    found.insert(LockedPackage {
        name: name.to_owned(),
        version,
        resolved,
        integrity,
    });
}

fn looks_like_registry_tarball(resolved: Option<&str>) -> bool {
    resolved.is_some_and(|url| url.contains("/-/") && url.to_ascii_lowercase().ends_with(".tgz"))
}

fn semver_like(version: &str) -> Option<()> {
    let core = version.split(['-', '+']).next()?;
    let parts: Vec<&str> = core.split('.').collect();
    (parts.len() == 3
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit())))
    .then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_packages_for_another_platform_are_left_out() {
        let (os, _) = crate::ecosystem::npm::node_platform();
        let text = format!(
            r#"{{"lockfileVersion": 3, "packages": {{
                "": {{"name": "app"}},
                "node_modules/@esbuild/plan9-x64": {{"version": "0.25.0", "resolved": "https://r/@esbuild/plan9-x64/-/plan9-x64-0.25.0.tgz", "integrity": "sha512-AA==", "optional": true, "os": ["plan9"]}},
                "node_modules/@esbuild/here": {{"version": "0.25.0", "resolved": "https://r/@esbuild/here/-/here-0.25.0.tgz", "integrity": "sha512-AA==", "optional": true, "os": ["{os}"]}},
                "node_modules/strict": {{"version": "1.0.0", "resolved": "https://r/strict/-/strict-1.0.0.tgz", "integrity": "sha512-AA==", "os": ["plan9"]}}
            }}}}"#
        );
        let names: Vec<String> = parse(&text)
            .unwrap()
            .packages
            .into_iter()
            .map(|package| package.name)
            .collect();
        // A required package stays: npm itself then says the platform is wrong.
        assert_eq!(names, ["@esbuild/here", "strict"]);
    }

    #[test]
    fn v3_with_workspaces_links_aliases_and_missing_resolved() {
        let lock = parse(
            r#"{"name":"root","lockfileVersion":3,"requires":true,"packages":{
              "":{"name":"root","workspaces":["packages/a"]},
              "packages/a":{"name":"a","version":"1.0.0","dependencies":{"left-pad":"^1.3.0"}},
              "node_modules/a":{"resolved":"packages/a","link":true},
              "node_modules/left-pad":{"version":"1.3.0","resolved":"https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz","integrity":"sha512-AAAA"},
              "node_modules/@s/x":{"version":"2.0.0","integrity":"sha512-BBBB"},
              "node_modules/alias":{"name":"real","version":"3.0.0","integrity":"sha512-CCCC"},
              "node_modules/x/node_modules/left-pad":{"version":"1.3.0","resolved":"https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz","integrity":"sha512-AAAA"},
              "node_modules/b/node_modules/inner":{"version":"1.0.0","inBundle":true},
              "node_modules/g":{"version":"1.0.0","resolved":"git+ssh://git@github.com/x/g.git#abc"}
            }}"#,
        )
        .unwrap();
        let specs: Vec<String> = lock.packages.iter().map(LockedPackage::spec).collect();
        assert_eq!(specs, ["@s/x@2.0.0", "left-pad@1.3.0", "real@3.0.0"]);
        assert_eq!(lock.packages[0].resolved, None);
        assert_eq!(lock.skipped.len(), 1, "{:?}", lock.skipped);
    }

    #[test]
    fn v1_nested_tree_and_aliases() {
        let lock = parse(
            r#"{"lockfileVersion":1,"dependencies":{
              "a":{"version":"1.0.0","resolved":"https://r/a/-/a-1.0.0.tgz","integrity":"sha1-AAAA",
                   "dependencies":{"b":{"version":"2.0.0","integrity":"sha512-BBBB"}}},
              "c":{"version":"npm:@scope/real@4.5.6","integrity":"sha512-CCCC"},
              "d":{"version":"1.0.0","bundled":true}
            }}"#,
        )
        .unwrap();
        let specs: Vec<String> = lock.packages.iter().map(LockedPackage::spec).collect();
        assert_eq!(specs, ["@scope/real@4.5.6", "a@1.0.0", "b@2.0.0"]);
    }

    #[test]
    fn bad_input_names_the_problem() {
        assert!(
            matches!(parse("{\n  \"x\": ,\n}"), Err(ParseError::Json(error)) if error.line() == 2)
        );
        assert!(
            matches!(parse("{}"), Err(ParseError::Invalid(message)) if message.contains("lockfileVersion"))
        );
        assert!(matches!(
            parse(r#"{"lockfileVersion":3}"#),
            Err(ParseError::Invalid(_))
        ));
    }
}
