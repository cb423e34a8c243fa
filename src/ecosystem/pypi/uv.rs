//! `lading login --tool uv`: an `[[index]]` marked `default = true` in `uv.toml` (or
//! `[[tool.uv.index]]` in a project's `pyproject.toml`), edited with `toml_edit` so
//! comments, order and the user's other indexes survive. The credentials go where uv reads
//! them for any index, a netrc file (uv's docs, "HTTP credentials": "Reading credentials from
//! .netrc files is always enabled. The target file path will be loaded from the NETRC
//! environment variable if defined, falling back to ~/.netrc"), never into the TOML: uv
//! writes index URLs, userinfo included, into `uv.lock`.
//!
//! uv treats the first index marked `default` as the default and ignores PyPI then, so an
//! existing default index that is not ours is refused rather than silently shadowed.

use std::path::Path;

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, Value};

use crate::ecosystem::edit::{EditError, MARKER, newline_of};

/// Parse TOML for editing, or say where it is invalid.
///
/// # Errors
/// [`EditError`] at the line of the syntax error.
pub fn parse(path: &Path, text: &str) -> Result<DocumentMut, EditError> {
    text.parse().map_err(|error: toml_edit::TomlError| {
        let offset = error.span().map_or(0, |span| span.start);
        EditError::at(path, text, offset, error.message().trim().to_owned())
    })
}

/// `document` as text, with the line endings of `text` (toml_edit writes LF for what it
/// adds; a CRLF file stays CRLF).
#[must_use]
pub fn render(text: &str, document: &DocumentMut) -> String {
    let out = document.to_string();
    if newline_of(text) == "\r\n" && !text.replace("\r\n", "").contains('\n') {
        return out.replace("\r\n", "\n").replace('\n', "\r\n");
    }
    out
}

/// `value` with the decoration (spacing, trailing comment) of `old`, when there was one.
#[must_use]
pub fn keep_decor(value: impl Into<Value>, old: Option<&Item>) -> Item {
    let mut value = value.into();
    if let Some(old) = old.and_then(Item::as_value) {
        *value.decor_mut() = old.decor().clone();
    }
    Item::Value(value)
}

/// Where the index list lives: `uv.toml` (`[[index]]`) or `pyproject.toml`
/// (`[[tool.uv.index]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UvFile {
    /// A `uv.toml`.
    UvToml,
    /// A project's `pyproject.toml`.
    Pyproject,
}

/// Make `name` the default index at `url`: its `[[index]]` entry gets `url` and
/// `default = true` (other keys kept), or one is appended after a [`MARKER`] comment.
///
/// # Errors
/// [`EditError`] for invalid TOML, an `index` that is not an array of tables, or another
/// index already marked `default`.
pub fn apply_index(
    path: &Path,
    text: &str,
    file: UvFile,
    name: &str,
    url: &str,
) -> Result<String, EditError> {
    let mut document = parse(path, text)?;
    let at = |what: &str| text.find(what).unwrap_or(0);
    let key = match file {
        UvFile::UvToml => "index",
        UvFile::Pyproject => "tool.uv.index",
    };
    let mut container: &mut Table = document.as_table_mut();
    if file == UvFile::Pyproject {
        for part in ["tool", "uv"] {
            let item = container.entry(part).or_insert_with(|| {
                let mut table = Table::new();
                table.set_implicit(true);
                Item::Table(table)
            });
            container = item.as_table_mut().ok_or_else(|| {
                EditError::at(
                    path,
                    text,
                    at(part),
                    format!("`{part}` is not a table; lading adds `[[{key}]]` only to a table"),
                )
            })?;
        }
    }
    let indexes = container
        .entry("index")
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or_else(|| {
            EditError::at(
                path,
                text,
                at("index"),
                format!(
                    "`{key}` is not an array of tables (`[[{key}]]`); lading edits only that form"
                ),
            )
        })?;
    let is_default = |table: &Table| table.get("default").and_then(Item::as_bool) == Some(true);
    let named = |table: &Table| table.get("name").and_then(Item::as_str) == Some(name);
    if let Some(other) = indexes
        .iter()
        .find(|table| is_default(table) && !named(table))
    {
        let other = other
            .get("name")
            .and_then(Item::as_str)
            .unwrap_or("(unnamed)");
        return Err(EditError::at(
            path,
            text,
            at("default"),
            format!(
                "index `{other}` is already the default index; uv would use it and not `{name}`"
            ),
        ));
    }
    if let Some(table) = indexes.iter_mut().find(|table| named(table)) {
        if table.get("url").and_then(Item::as_str) == Some(url) && is_default(table) {
            return Ok(text.to_owned());
        }
        let url_item = keep_decor(url, table.get("url"));
        table.insert("url", url_item);
        let default_item = keep_decor(true, table.get("default"));
        table.insert("default", default_item);
    } else {
        let mut table = Table::new();
        let prefix = if text.trim().is_empty() {
            format!("# {MARKER}\n")
        } else {
            format!("\n# {MARKER}\n")
        };
        table.decor_mut().set_prefix(prefix);
        table.insert("name", toml_edit::value(name));
        table.insert("url", toml_edit::value(url));
        table.insert("default", toml_edit::value(true));
        indexes.push(table);
    }
    Ok(render(text, &document))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_appended_once_and_the_users_indexes_survive() {
        let path = Path::new("uv.toml");
        let text = "# mine\nnative-tls = true # for the proxy\n\n[[index]]\nname = \"pytorch\"\nurl = \"https://download.pytorch.org/whl/cpu\"\nexplicit = true\n";
        let once = apply_index(
            path,
            text,
            UvFile::UvToml,
            "codeartifact",
            "http://h/simple/",
        )
        .unwrap();
        assert_eq!(
            once,
            format!(
                "{text}\n# {MARKER}\n[[index]]\nname = \"codeartifact\"\nurl = \"http://h/simple/\"\ndefault = true\n"
            )
        );
        assert_eq!(
            apply_index(
                path,
                &once,
                UvFile::UvToml,
                "codeartifact",
                "http://h/simple/"
            )
            .unwrap(),
            once
        );
        // A new endpoint changes only the url.
        let moved = apply_index(
            path,
            &once,
            UvFile::UvToml,
            "codeartifact",
            "http://other/simple/",
        )
        .unwrap();
        assert_eq!(
            moved,
            once.replace("http://h/simple/", "http://other/simple/")
        );
    }

    #[test]
    fn pyproject_gets_tool_uv_index_and_keeps_crlf() {
        let path = Path::new("pyproject.toml");
        let text = "[project]\r\nname = \"app\"\r\n";
        let out = apply_index(path, text, UvFile::Pyproject, "lading", "http://h/simple/").unwrap();
        assert_eq!(
            out,
            format!(
                "[project]\r\nname = \"app\"\r\n\r\n# {MARKER}\r\n[[tool.uv.index]]\r\nname = \"lading\"\r\nurl = \"http://h/simple/\"\r\ndefault = true\r\n"
            )
        );
    }

    #[test]
    fn another_default_and_an_inline_index_are_refused() {
        let path = Path::new("uv.toml");
        let error = apply_index(
            path,
            "[[index]]\nname = \"corp\"\nurl = \"https://corp/simple\"\ndefault = true\n",
            UvFile::UvToml,
            "codeartifact",
            "http://h/simple/",
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("`corp` is already the default"),
            "{error}"
        );
        assert_eq!(error.line, 4);
        let error = apply_index(
            path,
            "index = [{ url = \"https://x/simple\" }]\n",
            UvFile::UvToml,
            "codeartifact",
            "http://h/simple/",
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("not an array of tables"),
            "{error}"
        );
    }
}
