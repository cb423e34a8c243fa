//! `[registries.<name>]` in cargo's `config.toml` (`index = "sparse+<url>"`) and
//! `credentials.toml` (`token = "..."`), edited with `toml_edit`.

use std::path::Path;

use toml_edit::{DocumentMut, Item, Table};

use crate::ecosystem::edit::{EditError, MARKER, newline_of};

/// The sparse index URL cargo wants for a registry endpoint (`sparse+` and a trailing `/`).
#[must_use]
pub fn sparse_index(endpoint: &str) -> String {
    let endpoint = endpoint.strip_prefix("sparse+").unwrap_or(endpoint);
    if endpoint.ends_with('/') {
        format!("sparse+{endpoint}")
    } else {
        format!("sparse+{endpoint}/")
    }
}

/// The env-var form of a registry name (`my-reg` → `MY_REG`), as cargo maps
/// `CARGO_REGISTRIES_<NAME>_INDEX`.
#[must_use]
pub fn env_name(name: &str) -> String {
    name.chars()
        .map(|character| {
            if character == '-' {
                '_'
            } else {
                character.to_ascii_uppercase()
            }
        })
        .collect()
}

/// Set `registries.<name>.index` in a `config.toml`.
///
/// # Errors
/// [`EditError`] for invalid TOML or a `registries` that is not a table.
pub fn apply_config(path: &Path, text: &str, name: &str, index: &str) -> Result<String, EditError> {
    set(path, text, name, "index", index)
}

/// Set `registries.<name>.token` in a `credentials.toml`.
///
/// # Errors
/// [`EditError`] for invalid TOML or a `registries` that is not a table.
pub fn apply_credentials(
    path: &Path,
    text: &str,
    name: &str,
    token: &str,
) -> Result<String, EditError> {
    set(path, text, name, "token", token)
}

fn set(path: &Path, text: &str, name: &str, key: &str, value: &str) -> Result<String, EditError> {
    let mut document: DocumentMut = text.parse().map_err(|error: toml_edit::TomlError| {
        let offset = error.span().map_or(0, |span| span.start);
        EditError::at(path, text, offset, error.message().trim().to_owned())
    })?;
    let not_a_table = |what: &str| {
        let offset = text.find(what).unwrap_or(0);
        EditError::at(
            path,
            text,
            offset,
            format!("`{what}` is not a table; lading adds `[registries.{name}]` only to a table"),
        )
    };
    let current = document
        .get("registries")
        .and_then(|registries| registries.get(name))
        .and_then(|registry| registry.get(key))
        .and_then(|item| item.as_str());
    if current == Some(value) {
        return Ok(text.to_owned());
    }
    let registries = document.entry("registries").or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    let registries = registries
        .as_table_like_mut()
        .ok_or_else(|| not_a_table("registries"))?;
    let prefix = if text.trim().is_empty() {
        format!("# {MARKER}\n")
    } else {
        format!("\n# {MARKER}\n")
    };
    let registry = registries.entry(name).or_insert_with(|| {
        let mut table = Table::new();
        table.decor_mut().set_prefix(prefix);
        Item::Table(table)
    });
    let registry = registry
        .as_table_like_mut()
        .ok_or_else(|| not_a_table(name))?;
    let mut new_value = toml_edit::Value::from(value);
    if let Some(old) = registry.get(key).and_then(Item::as_value) {
        // Keep the spacing and trailing comment around the old value.
        *new_value.decor_mut() = old.decor().clone();
    }
    registry.insert(key, Item::Value(new_value));
    let out = document.to_string();
    // toml_edit writes LF for what it adds: follow a CRLF file's line endings.
    if newline_of(text) == "\r\n" && !text.replace("\r\n", "").contains('\n') {
        return Ok(out.replace("\r\n", "\n").replace('\n', "\r\n"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_added_once_and_comments_survive() {
        let path = Path::new("config.toml");
        let text = "# build settings\n[build]\njobs = 2 # two cores\n\n[registries.other]\nindex = \"sparse+https://other/\"\n";
        let index = sparse_index("http://127.0.0.1:9/cargo");
        let once = apply_config(path, text, "lading", &index).unwrap();
        assert_eq!(
            once,
            format!(
                "{text}\n# {MARKER}\n[registries.lading]\nindex = \"sparse+http://127.0.0.1:9/cargo/\"\n"
            )
        );
        assert_eq!(apply_config(path, &once, "lading", &index).unwrap(), once);
        let credentials =
            apply_credentials(Path::new("credentials.toml"), "", "lading", "tok").unwrap();
        assert_eq!(
            credentials,
            format!("# {MARKER}\n[registries.lading]\ntoken = \"tok\"\n")
        );
        assert_eq!(env_name("my-reg"), "MY_REG");
    }

    #[test]
    fn existing_registry_changes_only_its_index_and_crlf_stays() {
        let path = Path::new("config.toml");
        let text = "[registries.lading]\r\nindex = \"sparse+https://old/\" # old\r\nprotocol = \"sparse\"\r\n";
        let out = apply_config(path, text, "lading", "sparse+https://new/").unwrap();
        assert_eq!(
            out,
            "[registries.lading]\r\nindex = \"sparse+https://new/\" # old\r\nprotocol = \"sparse\"\r\n"
        );
    }

    #[test]
    fn invalid_toml_names_the_line() {
        let error =
            apply_config(Path::new("config.toml"), "[build]\njobs = \n", "x", "y").unwrap_err();
        assert_eq!(error.line, 2, "{error}");
        let error =
            apply_config(Path::new("config.toml"), "registries = 3\n", "x", "y").unwrap_err();
        assert!(error.to_string().contains("not a table"), "{error}");
    }
}
