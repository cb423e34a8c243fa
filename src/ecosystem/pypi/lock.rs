//! `uv.lock` and `pylock.toml` (PEP 751) read as hash-pinned requirements, so they restore
//! through the same path as `requirements.txt`: the configured index's project page lists
//! the files, and only those whose sha256 the lockfile pins are downloaded.
//!
//! The URLs in the lockfile are not fetched: like npm's `resolved`, they name the index the
//! lock was made against, and the restore reads the configured repository instead. Packages
//! from anywhere but an index (the project itself, a path, a git checkout, a URL) are left
//! to the native tool and reported as skipped.

use std::path::Path;

use toml_edit::{Item, Table, Value};

use super::requirement::{Requirement, RequirementsError};
use crate::cas::{Algorithm, Digest};

/// Whether a file name is a lockfile this module reads: `uv.lock`, `pylock.toml` or
/// `pylock.<name>.toml`.
#[must_use]
pub fn is_lock_file_name(name: &str) -> bool {
    name == "uv.lock"
        || name == "pylock.toml"
        || name
            .strip_prefix("pylock.")
            .and_then(|rest| rest.strip_suffix(".toml"))
            .is_some_and(|middle| !middle.is_empty() && !middle.contains('.'))
}

/// Parse `uv.lock` or a `pylock.toml` by its file name.
///
/// # Errors
/// TOML syntax errors (with line and column), and index packages without a version or a
/// sha256, naming the file and line.
pub fn parse(
    path: &Path,
    text: &str,
) -> Result<(Vec<Requirement>, Vec<String>), RequirementsError> {
    let document = parse_document(path, text)?;
    let is_uv = path.file_name().is_some_and(|name| name == "uv.lock");
    let key = if is_uv { "package" } else { "packages" };
    let mut requirements = Vec::new();
    let mut notes = Vec::new();
    for package in package_tables(path, text, &document, key)? {
        let PackageTable {
            table: package,
            origin,
            name,
        } = package?;
        let error = |message: String| RequirementsError {
            origin: origin.clone(),
            message,
        };
        let source = if is_uv {
            uv_source(package)
        } else {
            pylock_source(package)
        };
        if let Some(kind) = source {
            notes.push(format!(
                "{origin}: `{name}` comes from a {kind}, not an index; the native tool installs it"
            ));
            continue;
        }
        // PEP 751 makes `version` optional; the files' names carry it then.
        let version = match package.get("version").and_then(Item::as_str) {
            Some(version) => version.to_owned(),
            None => files(package)
                .iter()
                .find_map(version_from_file)
                .ok_or_else(|| {
                    error(format!("`{name}` comes from an index but has no `version`"))
                })?,
        };
        let mut hashes = Vec::new();
        let mut unreadable = None;
        for file in files(package) {
            let found = if is_uv {
                file.get("hash").and_then(Value::as_str).map(|value| {
                    value
                        .split_once(':')
                        .and_then(|(algorithm, hex)| {
                            Digest::from_hex(Algorithm::parse(algorithm)?, hex)
                        })
                        .ok_or(value)
                })
            } else {
                file.get("hashes")
                    .and_then(Value::as_inline_table)
                    .and_then(|hashes| hashes.get("sha256"))
                    .and_then(Value::as_str)
                    .map(|hex| Digest::from_hex(Algorithm::Sha256, hex).ok_or(hex))
            };
            match found {
                Some(Ok(digest)) if !hashes.contains(&digest) => hashes.push(digest),
                Some(Err(value)) => unreadable = Some(value.to_owned()),
                _ => {}
            }
        }
        if let Some(value) = unreadable {
            return Err(error(format!(
                "`{name}=={version}` has a hash `{value}` that is not `sha256:<hex>`"
            )));
        }
        if hashes.is_empty() {
            return Err(error(format!(
                "`{name}=={version}` lists no file with a sha256 (its index published none), so lading cannot verify it"
            )));
        }
        let marker = if is_uv {
            uv_resolution_marker(package)
        } else {
            package
                .get("marker")
                .and_then(Item::as_str)
                .map(str::to_owned)
        };
        requirements.push(Requirement {
            name,
            version,
            hashes,
            marker,
            origin,
        });
    }
    Ok((requirements, notes))
}

/// A `uv.lock` package's `resolution-markers` (the forks of a universal lock it belongs
/// to, `numpy` 2.4 for `python_full_version < '3.12'`) as one marker: any of them.
fn uv_resolution_marker(package: &Table) -> Option<String> {
    let markers: Vec<&str> = package
        .get("resolution-markers")
        .and_then(Item::as_array)?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    any_marker(&markers)
}

/// Several environment markers as one that holds when any of them does; none for none.
#[must_use]
pub fn any_marker(markers: &[&str]) -> Option<String> {
    match markers {
        [] => None,
        [one] => Some((*one).to_owned()),
        many => Some(
            many.iter()
                .map(|marker| format!("({marker})"))
                .collect::<Vec<_>>()
                .join(" or "),
        ),
    }
}

/// A TOML lockfile, or the error naming it.
///
/// # Errors
/// TOML syntax errors, with line and column.
pub fn parse_document<'t>(
    path: &Path,
    text: &'t str,
) -> Result<toml_edit::Document<&'t str>, RequirementsError> {
    toml_edit::Document::parse(text).map_err(|error| RequirementsError {
        origin: path.display().to_string(),
        message: format!("not valid TOML: {error}"),
    })
}

/// One package of a TOML lockfile: its table, where it stands (`file:line`) and its name.
pub struct PackageTable<'d> {
    /// The `[[package]]` table.
    pub table: &'d Table,
    /// `file:line`, for messages and [`Requirement::origin`].
    pub origin: String,
    /// Its `name`.
    pub name: String,
}

/// The package tables of a TOML lockfile, `[[key]]` (`uv.lock` and `poetry.lock`:
/// `package`, `pylock.toml`: `packages`), in order, each an error if it has no `name`;
/// none when the file has no `key`.
///
/// # Errors
/// `key` is not an array of tables.
pub fn package_tables<'d>(
    path: &'d Path,
    text: &'d str,
    document: &'d toml_edit::Document<&str>,
    key: &str,
) -> Result<impl Iterator<Item = Result<PackageTable<'d>, RequirementsError>> + 'd, RequirementsError>
{
    let Some(packages) = document.get(key) else {
        return Ok(None.into_iter().flatten());
    };
    let packages = packages
        .as_array_of_tables()
        .ok_or_else(|| RequirementsError {
            origin: path.display().to_string(),
            message: format!("`{key}` is not an array of tables (`[[{key}]]`)"),
        })?;
    Ok(Some(packages.iter().map(move |table| {
        let line = table
            .span()
            .map_or(0, |span| crate::ecosystem::line_at(text, span.start));
        let origin = format!("{}:{line}", path.display());
        let name = table
            .get("name")
            .and_then(Item::as_str)
            .ok_or_else(|| RequirementsError {
                origin: origin.clone(),
                message: "a package without a `name`".to_owned(),
            })?
            .to_owned();
        Ok(PackageTable {
            table,
            origin,
            name,
        })
    }))
    .into_iter()
    .flatten())
}

/// For a `uv.lock` package not from a registry, what it comes from (a `registry` that is
/// a local directory of files, `--find-links ./wheels`, counts as local).
fn uv_source(package: &Table) -> Option<String> {
    let source = package.get("source").and_then(Item::as_inline_table)?;
    if let Some(registry) = source.get("registry").and_then(Value::as_str) {
        if registry.starts_with("https://") || registry.starts_with("http://") {
            return None;
        }
        return Some("local registry directory".to_owned());
    }
    let kind = source.iter().next().map_or("local source", |(key, _)| key);
    Some(format!("{kind} source"))
}

/// For a `pylock.toml` package not from an index, what it comes from.
fn pylock_source(package: &Table) -> Option<String> {
    ["vcs", "directory", "archive"]
        .into_iter()
        .find(|key| package.contains_key(key))
        .map(|key| format!("{key} source"))
}

/// The version in a file's name (`name-1.0-py3-none-any.whl`, `name-1.0.tar.gz`), from its
/// `name` or the last segment of its `url`.
fn version_from_file(file: &toml_edit::InlineTable) -> Option<String> {
    let name = file.get("name").and_then(Value::as_str).or_else(|| {
        file.get("url")
            .and_then(Value::as_str)
            .and_then(|url| url.rsplit('/').next())
    })?;
    if let Some(stem) = name.strip_suffix(".whl") {
        return stem.split('-').nth(1).map(str::to_owned);
    }
    let stem = [".tar.gz", ".zip"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))?;
    stem.rsplit_once('-').map(|(_, version)| version.to_owned())
}

/// The files a package lists: its sdist and wheels, as inline tables or tables.
fn files(package: &Table) -> Vec<toml_edit::InlineTable> {
    let mut files = Vec::new();
    let mut push = |item: &Item| match item {
        Item::Value(Value::InlineTable(table)) => files.push(table.clone()),
        Item::Table(table) => files.push(table.clone().into_inline_table()),
        _ => {}
    };
    if let Some(sdist) = package.get("sdist") {
        push(sdist);
    }
    match package.get("wheels") {
        Some(Item::Value(Value::Array(wheels))) => {
            for wheel in wheels {
                if let Value::InlineTable(table) = wheel {
                    files.push(table.clone());
                }
            }
        }
        Some(Item::ArrayOfTables(wheels)) => {
            for wheel in wheels {
                files.push(wheel.clone().into_inline_table());
            }
        }
        _ => {}
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALPHA: &str = "b1b1143f81ac0c99a9fddb3eb68ddf9090791090402c155cc224f460642e1529";
    const BETA: &str = "bd0650dd5699a5f9ef1b93f5235ac2b70722a034b7a688746cc66dcfa8478a28";

    #[test]
    fn uv_lock_index_packages_become_requirements_and_the_project_is_skipped() {
        // As `uv lock` 0.13.8 wrote it against pypiserver.
        let text = format!(
            r#"version = 1
revision = 5
requires-python = ">=3.8"

[[package]]
name = "demo-app"
version = "0.1.0"
source = {{ virtual = "." }}
dependencies = [
    {{ name = "lading-alpha" }},
]

[[package]]
name = "lading-alpha"
version = "1.0.0"
source = {{ registry = "http://127.0.0.1:18089/simple/" }}
sdist = {{ url = "http://h/lading_alpha-1.0.0.tar.gz", hash = "sha256:{BETA}", size = 9 }}
wheels = [
    {{ url = "http://127.0.0.1:18089/packages/lading_alpha-1.0.0-py3-none-any.whl", hash = "sha256:{ALPHA}" }},
]
"#
        );
        let (requirements, notes) = parse(Path::new("uv.lock"), &text).unwrap();
        assert_eq!(requirements.len(), 1);
        assert_eq!(requirements[0].name, "lading-alpha");
        assert_eq!(requirements[0].version, "1.0.0");
        assert_eq!(requirements[0].origin, "uv.lock:13");
        let hexes: Vec<String> = requirements[0].hashes.iter().map(Digest::hex).collect();
        assert_eq!(hexes, [BETA, ALPHA]);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with("uv.lock:5: `demo-app` comes from a virtual source"),
            "{notes:?}"
        );
    }

    #[test]
    fn pylock_wheels_and_sdists_in_table_and_inline_form() {
        // The table form is what `pip lock` 26.3 writes.
        let text = format!(
            r#"lock-version = "1.0"
created-by = "pip"

[[packages]]
name = "lading-alpha"
version = "1.0.0"

[[packages.wheels]]
name = "lading_alpha-1.0.0-py3-none-any.whl"
url = "http://127.0.0.1:18089/packages/lading_alpha-1.0.0-py3-none-any.whl"

[packages.wheels.hashes]
sha256 = "{ALPHA}"

[[packages]]
name = "lading-beta"
version = "2.0"
sdist = {{ url = "http://h/b.tar.gz", hashes = {{ sha256 = "{BETA}" }} }}

[[packages]]
name = "local-thing"
directory = {{ path = "./thing" }}

[[packages]]
name = "no-version"
wheels = [{{ name = "no_version-3.1-py3-none-any.whl", url = "http://h/no_version-3.1-py3-none-any.whl", hashes = {{ sha256 = "{ALPHA}" }} }}]
"#
        );
        let (requirements, notes) = parse(Path::new("pylock.toml"), &text).unwrap();
        let found: Vec<(&str, &str, String)> = requirements
            .iter()
            .map(|r| (r.name.as_str(), r.version.as_str(), r.hashes[0].hex()))
            .collect();
        assert_eq!(
            found,
            [
                ("lading-alpha", "1.0.0", ALPHA.to_owned()),
                ("lading-beta", "2.0", BETA.to_owned()),
                ("no-version", "3.1", ALPHA.to_owned())
            ]
        );
        assert_eq!(requirements[1].origin, "pylock.toml:15");
        assert!(
            notes[0].contains("`local-thing` comes from a directory source"),
            "{notes:?}"
        );
    }

    #[test]
    fn universal_locks_carry_their_markers() {
        let text = format!(
            r#"version = 1
[[package]]
name = "numpy"
version = "2.4.6"
source = {{ registry = "https://pypi.org/simple" }}
resolution-markers = ["python_full_version < '3.12'"]
wheels = [{{ url = "u", hash = "sha256:{ALPHA}" }}]

[[package]]
name = "numpy"
version = "2.5.5"
source = {{ registry = "https://pypi.org/simple" }}
resolution-markers = ["python_full_version >= '3.13'", "python_full_version == '3.12.*'"]
wheels = [{{ url = "u", hash = "sha256:{BETA}" }}]
"#
        );
        let (requirements, _) = parse(Path::new("uv.lock"), &text).unwrap();
        assert_eq!(
            requirements[0].marker.as_deref(),
            Some("python_full_version < '3.12'")
        );
        assert_eq!(
            requirements[1].marker.as_deref(),
            Some("(python_full_version >= '3.13') or (python_full_version == '3.12.*')")
        );
        let pylock = format!(
            "lock-version = \"1.0\"\n[[packages]]\nname = \"colorama\"\nversion = \"0.4.6\"\nmarker = \"sys_platform == 'win32'\"\nwheels = [{{ name = \"colorama-0.4.6-py2.py3-none-any.whl\", hashes = {{ sha256 = \"{ALPHA}\" }} }}]\n"
        );
        let (requirements, _) = parse(Path::new("pylock.toml"), &pylock).unwrap();
        assert_eq!(
            requirements[0].marker.as_deref(),
            Some("sys_platform == 'win32'")
        );
    }

    #[test]
    fn malformed_locks_name_the_file_and_line() {
        let error = parse(
            Path::new("uv.lock"),
            "[[package]]\nname = \"x\"\nversion = \n",
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("uv.lock") && error.message.contains("line 3"),
            "{error}"
        );
        let error = parse(
            Path::new("pylock.toml"),
            "lock-version = \"1.0\"\n\n[[packages]]\nname = \"x\"\nversion = \"1\"\n",
        )
        .unwrap_err();
        assert_eq!(error.origin, "pylock.toml:3");
        assert!(error.message.contains("no file with a sha256"), "{error}");
        let error = parse(
            Path::new("uv.lock"),
            "[[package]]\nname = \"x\"\nversion = \"1\"\nsource = { registry = \"https://r/simple\" }\nwheels = [{ url = \"u\", hash = \"md5:zz\" }]\n",
        )
        .unwrap_err();
        assert!(error.message.contains("`md5:zz`"), "{error}");
        let error = parse(
            Path::new("uv.lock"),
            "[[package]]\nname = \"x\"\nsource = { registry = \"https://i/simple\" }\n",
        )
        .unwrap_err();
        assert!(error.message.contains("has no `version`"), "{error}");
        let (found, notes) = parse(
            Path::new("uv.lock"),
            "[[package]]\nname = \"x\"\nversion = \"1\"\nsource = { registry = \"./wheels\" }\n",
        )
        .unwrap();
        assert!(
            found.is_empty() && notes[0].contains("local registry directory"),
            "{notes:?}"
        );
        let error = parse(Path::new("pylock.toml"), "[[packages]]\nversion = \"1\"\n").unwrap_err();
        assert!(error.message.contains("without a `name`"), "{error}");
    }

    #[test]
    fn lock_file_names() {
        for name in ["uv.lock", "pylock.toml", "pylock.dev.toml"] {
            assert!(is_lock_file_name(name), "{name}");
        }
        for name in [
            "pylock..toml",
            "pylock.a.b.toml",
            "poetry.lock",
            "uv.lock.bak",
        ] {
            assert!(!is_lock_file_name(name), "{name}");
        }
    }
}
