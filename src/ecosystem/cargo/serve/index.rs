//! The sparse index's shapes (cargo's "Registry Index" reference, RFC 2789): where a crate's
//! index file lives, what one line of it holds, and how the Web API's publish metadata
//! becomes that line.
//!
//! An index line is a JSON object: `name`, `vers`, `deps` (each with `name`, `req`,
//! `features`, `optional`, `default_features`, `target`, `kind`, and `registry` / `package`
//! when they apply), `cksum` (the sha256 of the `.crate`), `features`, `yanked`, `links`,
//! and `v: 2` with `features2` when a feature uses the `dep:` or `?/` syntax that cargo
//! before 1.60 cannot read (crates.io splits them the same way), plus `rust_version` when
//! the crate declares one.

use serde_json::{Map, Value, json};

/// Longest crate name crates.io accepts.
const MAX_NAME_LENGTH: usize = 64;

/// Whether `name` is a crate name crates.io would accept: ASCII letters, digits, `-` and
/// `_`, starting with a letter, at most 64 characters.
#[must_use]
pub fn valid_name(name: &str) -> bool {
    name.len() <= MAX_NAME_LENGTH
        && name
            .chars()
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic())
        && name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || matches!(character, '-' | '_'))
}

/// The key two crate names collide under on crates.io: lowercase, `-` and `_` the same.
#[must_use]
pub fn folded(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

/// The directories of a crate's index file: `1`, `2`, `3/{c}`, or `{ab}/{cd}` (in the
/// name's own case: the `{prefix}` of a `dl` template).
#[must_use]
pub fn prefix(name: &str) -> String {
    match name.len() {
        0 => String::new(),
        1 => "1".to_owned(),
        2 => "2".to_owned(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    }
}

/// The index file path of a crate, as cargo requests it (lowercased): `1/a`, `2/ab`,
/// `3/a/abc`, `ab/cd/abcd…`.
#[must_use]
pub fn index_path(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    format!("{}/{name}", prefix(&name))
}

/// The crate an index file path names (lowercase), if `path` is one.
#[must_use]
pub fn crate_of_index_path(path: &str) -> Option<String> {
    let path = path.to_ascii_lowercase();
    let name = path.rsplit('/').next()?;
    (valid_name(name) && index_path(name) == path).then(|| name.to_owned())
}

/// Whether `version` is a semantic version (`1.2.3`, `1.2.3-rc.1`, `1.2.3+build.5`).
#[must_use]
pub fn valid_version(version: &str) -> bool {
    let numeric = |part: &str| {
        !part.is_empty()
            && part.bytes().all(|byte| byte.is_ascii_digit())
            && (part == "0" || !part.starts_with('0'))
    };
    let identifiers = |text: &str, numbers_plain: bool| {
        text.split('.').all(|identifier| {
            !identifier.is_empty()
                && identifier
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
                && (!numbers_plain
                    || !identifier.bytes().all(|byte| byte.is_ascii_digit())
                    || numeric(identifier))
        })
    };
    let (rest, build) = match version.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let mut parts = core.split('.');
    let core_ok = (0..3).all(|_| parts.next().is_some_and(numeric)) && parts.next().is_none();
    core_ok
        && pre.is_none_or(|pre| identifiers(pre, true))
        && build.is_none_or(|build| identifiers(build, false))
}

/// A version without its build metadata: crates.io refuses `1.0.0+b` once `1.0.0+a` is in.
#[must_use]
pub fn without_build(version: &str) -> &str {
    version.split('+').next().unwrap_or(version)
}

/// Whether a feature's values need cargo 1.60 (`dep:` or `?/`): such features go to
/// `features2`.
fn needs_features2(values: &[Value]) -> bool {
    values
        .iter()
        .filter_map(Value::as_str)
        .any(|value| value.starts_with("dep:") || value.contains("?/"))
}

/// The index line (without `yanked`, which is the version's status) for the Web API publish
/// metadata `metadata` of a crate whose `.crate` has sha256 `cksum`.
///
/// # Errors
/// What is missing or malformed, for a 400.
pub fn entry_from_publish(metadata: &Value, cksum: &str) -> Result<Map<String, Value>, String> {
    let text = |field: &str| {
        metadata
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the publish metadata has no string `{field}`"))
    };
    let name = text("name")?;
    let version = text("vers")?;
    let mut deps = Vec::new();
    for dependency in metadata
        .get("deps")
        .and_then(Value::as_array)
        .ok_or("the publish metadata has no `deps` array")?
    {
        deps.push(dependency_entry(dependency)?);
    }
    let mut features = Map::new();
    let mut features2 = Map::new();
    for (feature, values) in metadata
        .get("features")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let values = values
            .as_array()
            .filter(|values| values.iter().all(Value::is_string))
            .ok_or_else(|| format!("feature `{feature}` is not a list of strings"))?;
        if needs_features2(values) {
            features2.insert(feature.clone(), Value::Array(values.clone()));
        } else {
            features.insert(feature.clone(), Value::Array(values.clone()));
        }
    }
    let mut entry = Map::new();
    entry.insert("name".to_owned(), json!(name));
    entry.insert("vers".to_owned(), json!(version));
    entry.insert("deps".to_owned(), Value::Array(deps));
    entry.insert("cksum".to_owned(), json!(cksum));
    entry.insert("features".to_owned(), Value::Object(features));
    entry.insert(
        "links".to_owned(),
        metadata
            .get("links")
            .filter(|links| links.is_string())
            .cloned()
            .unwrap_or(Value::Null),
    );
    if features2.is_empty() {
        entry.insert("v".to_owned(), json!(1));
    } else {
        entry.insert("v".to_owned(), json!(2));
        entry.insert("features2".to_owned(), Value::Object(features2));
    }
    if let Some(rust_version) = metadata.get("rust_version").and_then(Value::as_str) {
        entry.insert("rust_version".to_owned(), json!(rust_version));
    }
    Ok(entry)
}

/// One dependency of the publish metadata as the index writes it: `version_req` becomes
/// `req`, and a dependency renamed in `Cargo.toml` is listed under its new name with the
/// real crate in `package`.
fn dependency_entry(dependency: &Value) -> Result<Value, String> {
    let name = dependency
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| valid_name(name))
        .ok_or_else(|| format!("a dependency has no valid `name`: {dependency}"))?;
    let req = dependency
        .get("version_req")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("dependency `{name}` has no `version_req`"))?;
    let features = dependency
        .get("features")
        .cloned()
        .unwrap_or_else(|| json!([]));
    if !features
        .as_array()
        .is_some_and(|features| features.iter().all(Value::is_string))
    {
        return Err(format!(
            "the features of dependency `{name}` are not a list of strings"
        ));
    }
    let kind = dependency
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("normal");
    if !matches!(kind, "normal" | "dev" | "build") {
        return Err(format!("dependency `{name}` has an unknown kind `{kind}`"));
    }
    let renamed = dependency
        .get("explicit_name_in_toml")
        .and_then(Value::as_str)
        .filter(|renamed| *renamed != name);
    let flag = |field: &str, default: bool| {
        dependency
            .get(field)
            .and_then(Value::as_bool)
            .unwrap_or(default)
    };
    let mut entry = Map::new();
    entry.insert("name".to_owned(), json!(renamed.unwrap_or(name)));
    entry.insert("req".to_owned(), json!(req));
    entry.insert("features".to_owned(), features);
    entry.insert("optional".to_owned(), json!(flag("optional", false)));
    entry.insert(
        "default_features".to_owned(),
        json!(flag("default_features", true)),
    );
    entry.insert(
        "target".to_owned(),
        dependency
            .get("target")
            .filter(|target| target.is_string())
            .cloned()
            .unwrap_or(Value::Null),
    );
    entry.insert("kind".to_owned(), json!(kind));
    if let Some(registry) = dependency.get("registry").and_then(Value::as_str) {
        entry.insert("registry".to_owned(), json!(registry));
    }
    if renamed.is_some() {
        entry.insert("package".to_owned(), json!(name));
    }
    Ok(Value::Object(entry))
}

/// The URL of a crate's `.crate` from a registry's `config.json` `dl` value: its markers
/// (`{crate}`, `{version}`, `{prefix}`, `{lowerprefix}`, `{sha256-checksum}`) replaced, or
/// `/{crate}/{version}/download` appended when it has none.
#[must_use]
pub fn download_url(dl: &str, name: &str, version: &str, cksum: &str) -> String {
    const MARKERS: [&str; 5] = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !MARKERS.iter().any(|marker| dl.contains(marker)) {
        return format!("{}/{name}/{version}/download", dl.trim_end_matches('/'));
    }
    dl.replace("{crate}", name)
        .replace("{version}", version)
        .replace("{prefix}", &prefix(name))
        .replace("{lowerprefix}", &prefix(&name.to_ascii_lowercase()))
        .replace("{sha256-checksum}", cksum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_the_name_length_and_are_lowercase() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("Ab"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("Serde_JSON"), "se/rd/serde_json");
        assert_eq!(crate_of_index_path("3/a/abc").as_deref(), Some("abc"));
        assert_eq!(crate_of_index_path("se/rd/Serde").as_deref(), Some("serde"));
        for wrong in [
            "3/b/abc",
            "1/ab",
            "se/rd",
            "se/xx/serde",
            "../../x",
            "config.json",
        ] {
            assert_eq!(crate_of_index_path(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn names_and_versions_are_checked_as_crates_io_does() {
        for good in ["a", "serde_json", "tokio-util", "A1"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "1a", "-a", "a.b", "a/b", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
        for good in [
            "0.1.0",
            "1.2.3-rc.1",
            "1.0.0-alpha-1",
            "1.0.0+build.01",
            "10.20.30",
        ] {
            assert!(valid_version(good), "{good}");
        }
        for bad in [
            "1", "1.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "1.0.0.0", "v1.0.0",
        ] {
            assert!(!valid_version(bad), "{bad}");
        }
        assert_eq!(without_build("1.0.0+a"), "1.0.0");
        assert_eq!(folded("Foo-Bar"), folded("foo_bar"));
    }

    #[test]
    fn publish_metadata_becomes_the_index_line_cargo_reads() {
        let metadata = json!({
            "name": "b", "vers": "0.2.0", "links": "z", "rust_version": "1.70",
            "deps": [
                {"name": "a", "version_req": "^0.1", "features": ["x"], "optional": true,
                 "default_features": false, "target": null, "kind": "normal",
                 "registry": null, "explicit_name_in_toml": "renamed"},
                {"name": "c", "version_req": "=1.0.0", "features": [], "optional": false,
                 "default_features": true, "target": "cfg(unix)", "kind": "dev",
                 "registry": "https://example.com/index", "explicit_name_in_toml": null}
            ],
            "features": {"plain": ["renamed/x"], "extra": ["dep:renamed"], "weak": ["renamed?/x"]}
        });
        let entry = entry_from_publish(&metadata, "abc").unwrap();
        assert_eq!(
            Value::Object(entry),
            json!({
                "name": "b", "vers": "0.2.0", "cksum": "abc", "links": "z", "v": 2,
                "rust_version": "1.70",
                "deps": [
                    {"name": "renamed", "package": "a", "req": "^0.1", "features": ["x"],
                     "optional": true, "default_features": false, "target": null, "kind": "normal"},
                    {"name": "c", "req": "=1.0.0", "features": [], "optional": false,
                     "default_features": true, "target": "cfg(unix)", "kind": "dev",
                     "registry": "https://example.com/index"}
                ],
                "features": {"plain": ["renamed/x"]},
                "features2": {"extra": ["dep:renamed"], "weak": ["renamed?/x"]}
            })
        );
        let plain = entry_from_publish(
            &json!({"name": "q", "vers": "1.0.0", "deps": [], "features": {}}),
            "0",
        )
        .unwrap();
        assert_eq!(plain["v"], 1);
        assert!(!plain.contains_key("features2") && !plain.contains_key("rust_version"));
        assert_eq!(plain["links"], Value::Null);
        assert!(entry_from_publish(&json!({"name": "q", "vers": "1.0.0"}), "0").is_err());
    }

    #[test]
    fn download_urls_expand_dl_templates() {
        assert_eq!(
            download_url("https://static.crates.io/crates", "Itoa", "1.0.0", "ff"),
            "https://static.crates.io/crates/Itoa/1.0.0/download"
        );
        assert_eq!(
            download_url(
                "https://r/{prefix}/{lowerprefix}/{crate}-{version}.crate?s={sha256-checksum}",
                "Serde",
                "1.0.0",
                "ff"
            ),
            "https://r/Se/rd/se/rd/Serde-1.0.0.crate?s=ff"
        );
    }
}
