//! `package-lock.json` (v1, v2, v3) reading: every locked package with its version and
//! integrity. Shared by `pack` (provenance `resolvedDependencies`) and `restore`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;

/// Why a lockfile could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LockfileError {
    /// The file could not be read.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON or not a lockfile.
    #[error("`{path}` is not a valid package-lock.json: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One locked package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    /// Install path (`node_modules/a/node_modules/b`) or, for v1, the dependency path.
    pub path: String,
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// Where it was fetched from, when recorded.
    pub resolved: Option<String>,
    /// SRI integrity (`sha512-…`), possibly several space-separated.
    pub integrity: Option<String>,
    /// Development-only dependency.
    pub dev: bool,
}

impl LockedPackage {
    /// The integrity's digests as algorithm → lowercase hex (`sha512`, `sha1`, …).
    #[must_use]
    pub fn digests(&self) -> BTreeMap<String, String> {
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

/// Read a lockfile; linked (workspace) packages and the root are left out.
///
/// # Errors
/// [`LockfileError`].
pub fn read(path: &Path) -> Result<Vec<LockedPackage>, LockfileError> {
    let text = fs_err::read_to_string(path).map_err(|source| LockfileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parse lockfile text; `path` is only used in messages.
///
/// # Errors
/// [`LockfileError::Invalid`].
pub fn parse(path: &Path, text: &str) -> Result<Vec<LockedPackage>, LockfileError> {
    let invalid = |message: String| LockfileError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let document: Value = serde_json::from_str(text).map_err(|error| invalid(error.to_string()))?;
    let mut packages = Vec::new();
    if let Some(entries) = document.get("packages").and_then(Value::as_object) {
        for (install_path, entry) in entries {
            if install_path.is_empty() || entry.get("link").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let Some(name) = entry
                .get("name")
                .and_then(Value::as_str)
                .map(ToOwned::to_owned)
                .or_else(|| {
                    install_path
                        .rsplit_once("node_modules/")
                        .map(|(_, name)| name.to_owned())
                })
            else {
                // A workspace folder entry (`packages/a`) is not a fetched dependency.
                continue;
            };
            let Some(version) = entry.get("version").and_then(Value::as_str) else {
                return Err(invalid(format!(
                    "`packages[\"{install_path}\"]` has no version"
                )));
            };
            packages.push(LockedPackage {
                path: install_path.clone(),
                name,
                version: version.to_owned(),
                resolved: entry
                    .get("resolved")
                    .and_then(Value::as_str)
                    .map(ToOwned::to_owned),
                integrity: entry
                    .get("integrity")
                    .and_then(Value::as_str)
                    .map(ToOwned::to_owned),
                dev: entry.get("dev").and_then(Value::as_bool).unwrap_or(false),
            });
        }
        return Ok(packages);
    }
    if let Some(dependencies) = document.get("dependencies").and_then(Value::as_object) {
        collect_v1(dependencies, "", &mut packages);
        return Ok(packages);
    }
    if document.get("lockfileVersion").is_none() {
        return Err(invalid(
            "no `lockfileVersion`, `packages` or `dependencies`".to_owned(),
        ));
    }
    Ok(packages)
}

fn collect_v1(
    dependencies: &serde_json::Map<String, Value>,
    prefix: &str,
    out: &mut Vec<LockedPackage>,
) {
    for (name, entry) in dependencies {
        let path = format!("{prefix}node_modules/{name}");
        if let Some(version) = entry.get("version").and_then(Value::as_str)
            && !version.starts_with("file:")
        {
            out.push(LockedPackage {
                path: path.clone(),
                name: name.clone(),
                version: version.to_owned(),
                resolved: entry
                    .get("resolved")
                    .and_then(Value::as_str)
                    .map(ToOwned::to_owned),
                integrity: entry
                    .get("integrity")
                    .and_then(Value::as_str)
                    .map(ToOwned::to_owned),
                dev: entry.get("dev").and_then(Value::as_bool).unwrap_or(false),
            });
        }
        if let Some(nested) = entry.get("dependencies").and_then(Value::as_object) {
            collect_v1(nested, &format!("{path}/"), out);
        }
    }
}

/// The lockfile's packages as provenance `resolvedDependencies`: `uri` is the purl, `digest`
/// the integrity's digests in hex. Sorted and de-duplicated (one package may be installed at
/// several paths).
///
/// # Errors
/// [`LockfileError`].
pub fn resolved_dependencies(
    path: &Path,
) -> Result<Vec<crate::provenance::ResourceDescriptor>, LockfileError> {
    let mut descriptors: Vec<crate::provenance::ResourceDescriptor> = read(path)?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_v3_packages_with_integrity() {
        let text = r#"{"name":"c","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{
            "":{"name":"c","version":"1.0.0"},
            "node_modules/@acme/leftpad-x":{"version":"1.0.0","integrity":"sha512-u3AKVD7vFhPee4lVjwy/E7c/liZASY9+FCUs5hjKmW8D3VvMaz3tzBPaQHSh+Db+HggYlOobQciD7+aii1uyuA=="},
            "node_modules/a/node_modules/b":{"version":"2.0.0","dev":true},
            "packages/ws":{"version":"0.0.1"},
            "node_modules/ws":{"resolved":"packages/ws","link":true}}}"#;
        let packages = parse(Path::new("package-lock.json"), text).unwrap();
        let names: Vec<_> = packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(names, [("@acme/leftpad-x", "1.0.0"), ("b", "2.0.0")]);
        assert_eq!(packages[0].purl(), "pkg:npm/%40acme/leftpad-x@1.0.0");
        assert!(packages[0].digests()["sha512"].starts_with("bb700a543eef"));
        assert!(packages[1].dev);
    }

    #[test]
    fn reads_v1_dependencies_tree() {
        let text = r#"{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","integrity":"sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=","dependencies":{"b":{"version":"2.0.0"}}}}}"#;
        let packages = parse(Path::new("l"), text).unwrap();
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[1].path, "node_modules/a/node_modules/b");
        assert_eq!(packages[0].digests()["sha1"], "0".repeat(40));
    }

    #[test]
    fn missing_version_names_the_entry() {
        let error = parse(
            Path::new("l"),
            r#"{"lockfileVersion":3,"packages":{"node_modules/x":{}}}"#,
        )
        .unwrap_err();
        assert!(error.to_string().contains("node_modules/x"), "{error}");
    }
}
