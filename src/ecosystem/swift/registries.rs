//! SwiftPM's `registries.json`, as `swift package-registry set` and `login` write it.
//!
//! The format (SE-0292 "Package Registry Service", section "Registry configuration", and
//! SE-0378 "Package Registry Authentication", section "Changes to registry configuration"):
//!
//! ```json
//! {
//!   "authentication" : {
//!     "example-registry.com" : {
//!       "type" : "token"
//!     }
//!   },
//!   "registries" : {
//!     "[default]" : {
//!       "supportsAvailability" : false,
//!       "url" : "https://example-registry.com"
//!     }
//!   },
//!   "version" : 1
//! }
//! ```
//!
//! `registries` maps a package scope (or `[default]`) to a registry; `authentication` maps a
//! registry's host to how SwiftPM authenticates there (`basic` or `token`), the secret being
//! in the OS credential store or, on Linux, the user's netrc (`machine HOST login token
//! password TOKEN` for a token). The user-level file is `~/.swiftpm/configuration/
//! registries.json`; a project's is `.swiftpm/configuration/registries.json`;
//! `authentication` is read from the user-level one only.
//!
//! SwiftPM writes the whole file with `JSONEncoder` (sorted keys, pretty printed: two-space
//! indent, `"key" : value`, unescaped slashes), and so does this editor: a file SwiftPM
//! wrote comes back byte for byte except the keys lading sets. Unknown keys are kept.

use std::path::Path;

use serde_json::{Map, Value};

use crate::ecosystem::edit::{EditError, newline_of};

/// What to set in a `registries.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySet<'a> {
    /// `[default]`, or a package scope.
    pub scope: &'a str,
    /// The registry URL (for `registries`), when this file gets it.
    pub url: Option<&'a str>,
    /// The host whose `authentication` is set to token, when this file gets it.
    pub token_host: Option<&'a str>,
}

/// Apply `set` to a `registries.json`'s text (empty: a new file).
///
/// # Errors
/// [`EditError`] for text that is not JSON, or a `registries` / `authentication` that is not
/// an object.
pub fn apply(path: &Path, text: &str, set: &RegistrySet<'_>) -> Result<String, EditError> {
    let mut document: Value = if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|error| EditError {
            path: path.to_path_buf(),
            line: error.line(),
            message: format!("not valid JSON: {error}"),
        })?
    };
    let not_an_object = |what: &str| {
        EditError::at(
            path,
            text,
            text.find(&format!("\"{what}\"")).unwrap_or(0),
            format!("`{what}` is not a JSON object; lading edits only that form"),
        )
    };
    let root = document
        .as_object_mut()
        .ok_or_else(|| not_an_object("(the document)"))?;
    let before = root.clone();
    if let Some(url) = set.url {
        let registries = root
            .entry("registries")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or_else(|| not_an_object("registries"))?;
        let entry = registries
            .entry(set.scope)
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(entry) = entry.as_object_mut() else {
            return Err(not_an_object(set.scope));
        };
        entry.insert("url".to_owned(), Value::String(url.to_owned()));
        entry
            .entry("supportsAvailability")
            .or_insert(Value::Bool(false));
    }
    if let Some(host) = set.token_host {
        let authentication = root
            .entry("authentication")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or_else(|| not_an_object("authentication"))?;
        let entry = authentication
            .entry(host)
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(entry) = entry.as_object_mut() else {
            return Err(not_an_object(host));
        };
        entry.insert("type".to_owned(), Value::String("token".to_owned()));
    }
    root.entry("version").or_insert(Value::from(1));
    if !text.trim().is_empty() && *root == before {
        return Ok(text.to_owned());
    }
    let newline = newline_of(text);
    let mut out = String::new();
    write_pretty(&document, 0, &mut out);
    Ok(out.replace('\n', newline))
}

/// Foundation's `JSONEncoder` with `[.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]`
/// (serde_json's map is sorted, as `.sortedKeys` sorts).
fn write_pretty(value: &Value, depth: usize, out: &mut String) {
    let indent = |depth: usize| "  ".repeat(depth);
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{\n\n}"),
        Value::Object(map) => {
            out.push_str("{\n");
            for (index, (key, value)) in map.iter().enumerate() {
                out.push_str(&indent(depth + 1));
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(" : ");
                write_pretty(value, depth + 1, out);
                if index + 1 < map.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&indent(depth));
            out.push('}');
        }
        Value::Array(items) if items.is_empty() => out.push_str("[\n\n]"),
        Value::Array(items) => {
            out.push_str("[\n");
            for (index, item) in items.iter().enumerate() {
                out.push_str(&indent(depth + 1));
                write_pretty(item, depth + 1, out);
                if index + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&indent(depth));
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
    if depth == 0 {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPECTED: &str = r#"{
  "authentication" : {
    "packages.example.com" : {
      "type" : "token"
    }
  },
  "registries" : {
    "[default]" : {
      "supportsAvailability" : false,
      "url" : "https://packages.example.com/swift/repo/"
    }
  },
  "version" : 1
}
"#;

    #[test]
    fn a_new_file_has_the_documented_shape_and_a_second_apply_changes_nothing() {
        let set = RegistrySet {
            scope: "[default]",
            url: Some("https://packages.example.com/swift/repo/"),
            token_host: Some("packages.example.com"),
        };
        let path = Path::new("registries.json");
        let out = apply(path, "", &set).unwrap();
        assert_eq!(out, EXPECTED);
        assert_eq!(apply(path, &out, &set).unwrap(), out);
    }

    #[test]
    fn other_scopes_hosts_and_keys_are_kept() {
        let text = r#"{
  "authentication" : {
    "other.example" : {
      "loginAPIPath" : "/api/login",
      "type" : "basic"
    }
  },
  "registries" : {
    "acme" : {
      "url" : "https://other.example"
    }
  },
  "security" : {
    "default" : {
      "signing" : {
        "onUnsigned" : "warn"
      }
    }
  },
  "version" : 1
}
"#;
        let set = RegistrySet {
            scope: "[default]",
            url: Some("https://h/"),
            token_host: Some("h"),
        };
        let out = apply(Path::new("registries.json"), text, &set).unwrap();
        let value: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["registries"]["acme"]["url"], "https://other.example");
        assert_eq!(value["registries"]["[default]"]["url"], "https://h/");
        assert_eq!(value["authentication"]["other.example"]["type"], "basic");
        assert_eq!(value["authentication"]["h"]["type"], "token");
        assert_eq!(
            value["security"]["default"]["signing"]["onUnsigned"],
            "warn"
        );
        // Everything SwiftPM wrote is still there, byte for byte.
        for line in text.lines() {
            assert!(out.contains(line.trim_end_matches(',')), "{line}");
        }
        let error = apply(
            Path::new("registries.json"),
            "{\n  \"version\" : ,\n}",
            &set,
        )
        .unwrap_err();
        assert_eq!(error.line, 2);
    }
}
