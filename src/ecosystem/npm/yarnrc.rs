//! Yarn berry (2+) `.yarnrc.yml`: the registry, `npmAlwaysAuth` and the token, at the top
//! level or under `npmScopes.<scope>`.
//!
//! A line editor, not a YAML round trip: no YAML library keeps comments, quoting and key
//! order, and lading owns only three scalar keys. It understands block mappings (the form
//! `yarn config set` writes); a flow mapping (`npmScopes: {acme: ...}`) on the path to a
//! key lading owns is refused with its line, never rewritten.
//!
//! Yarn 1 does not read this file for registries: it reads `.npmrc` (including the file
//! named by `NPM_CONFIG_USERCONFIG`), so `--tool npm` configures it.

use std::path::Path;

use crate::ecosystem::edit::{EditError, Line, MARKER, lines, newline_of, splice};

/// What `lading login --tool yarn` sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YarnLogin {
    /// Registry URL (with a trailing slash).
    pub registry: String,
    /// npm scope, with or without `@`; `None`: the default registry.
    pub scope: Option<String>,
    /// The token (`npmAuthToken`).
    pub token: String,
}

/// A YAML double-quoted scalar (JSON strings are valid YAML).
fn quoted(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

/// Apply a login to the text of a `.yarnrc.yml`.
///
/// # Errors
/// [`EditError`] at the line of a flow mapping or an owned key holding a mapping.
pub fn apply(path: &Path, text: &str, login: &YarnLogin) -> Result<String, EditError> {
    let scope = login
        .scope
        .as_deref()
        .map(|scope| scope.trim_start_matches('@').to_owned());
    let parents: Vec<&str> = match &scope {
        Some(scope) => vec!["npmScopes", scope.as_str()],
        None => Vec::new(),
    };
    let mut out = text.to_owned();
    for (key, value) in [
        ("npmRegistryServer", quoted(&login.registry)),
        ("npmAlwaysAuth", "true".to_owned()),
        ("npmAuthToken", quoted(&login.token)),
    ] {
        out = set(path, &out, &parents, key, &value)?;
    }
    Ok(out)
}

/// A `key: value` line of a block mapping.
struct Entry {
    key: String,
    indent: usize,
    /// Byte range of the inline value (empty when the value is a nested block).
    value: std::ops::Range<usize>,
}

fn is_content(line: &Line<'_>) -> bool {
    let trimmed = line.text.trim_start_matches('\u{feff}').trim();
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

fn indent_of(line: &Line<'_>) -> usize {
    line.text.len() - line.text.trim_start_matches(' ').len()
}

/// Parse `key: value` (bare, `"..."` or `'...'` key); `None` for anything else.
fn entry(line: &Line<'_>) -> Option<Entry> {
    let indent = indent_of(line);
    let body = &line.text[indent..];
    let (key, after) = if let Some(rest) = body.strip_prefix('"') {
        let end = closing_quote(rest, '"')?;
        (
            serde_json::from_str::<String>(&body[..end + 2]).ok()?,
            &rest[end + 1..],
        )
    } else if let Some(rest) = body.strip_prefix('\'') {
        let end = closing_quote(rest, '\'')?;
        (rest[..end].replace("''", "'"), &rest[end + 1..])
    } else {
        if body.starts_with(['-', '[', '{', '#']) {
            return None;
        }
        let colon = body
            .find(": ")
            .or_else(|| body.strip_suffix(':').map(str::len))?;
        (body[..colon].trim_end().to_owned(), &body[colon..])
    };
    let after = after.strip_prefix(':')?;
    if !after.is_empty() && !after.starts_with([' ', '\t']) {
        return None;
    }
    let value_offset = line.text.len() - after.trim_start().len();
    let value_text = &line.text[value_offset..];
    let value_len = if let Some(rest) = value_text.strip_prefix('"') {
        closing_quote(rest, '"').map_or(value_text.len(), |end| end + 2)
    } else if let Some(rest) = value_text.strip_prefix('\'') {
        closing_quote(rest, '\'').map_or(value_text.len(), |end| end + 2)
    } else {
        value_text
            .find(" #")
            .unwrap_or(value_text.len())
            .min(value_text.trim_end().len())
    };
    let start = line.start + value_offset;
    Some(Entry {
        key,
        indent,
        value: start..start + value_len,
    })
}

/// Index (in `rest`, after the opening quote) of the closing quote.
fn closing_quote(rest: &str, quote: char) -> Option<usize> {
    let mut chars = rest.char_indices().peekable();
    while let Some((index, character)) = chars.next() {
        if quote == '"' && character == '\\' {
            chars.next();
        } else if character == quote {
            if quote == '\'' && chars.peek().is_some_and(|(_, next)| *next == '\'') {
                chars.next();
                continue;
            }
            return Some(index);
        }
    }
    None
}

/// Set `parents.key` to the rendered `value`, adding what is missing after a marker
/// comment at the end of the innermost existing mapping.
fn set(
    path: &Path,
    text: &str,
    parents: &[&str],
    key: &str,
    value: &str,
) -> Result<String, EditError> {
    let all = lines(text);
    let newline = newline_of(text);
    // The mapping being searched: lines [start, end) at `indent` (None: empty so far).
    let (mut start, mut end, mut indent) = (0, all.len(), Some(0));
    let mut parent_indent: Option<usize> = None;
    // The line of the innermost entry found on the path: an empty mapping's new keys go
    // right after it, not at the end of the file (where a later top-level key would
    // adopt them).
    let mut parent_line: Option<usize> = None;
    let mut missing: &[&str] = parents;
    let mut path_keys: Vec<&str> = parents.to_vec();
    path_keys.push(key);
    for (depth, wanted) in path_keys.iter().enumerate() {
        let found = (start..end).find_map(|index| {
            let line = &all[index];
            if !is_content(line) || Some(indent_of(line)) != indent {
                return None;
            }
            entry(line)
                .filter(|entry| entry.key == *wanted)
                .map(|entry| (index, entry))
        });
        let Some((index, found)) = found else {
            missing = &path_keys[depth..];
            break;
        };
        let inline = &text[found.value.clone()];
        if depth == parents.len() {
            if inline.is_empty() {
                return Err(EditError::at(
                    path,
                    text,
                    all[index].start,
                    format!("`{wanted}` holds a block; lading expects a single value here"),
                ));
            }
            if inline == value {
                return Ok(text.to_owned());
            }
            return Ok(splice(text, vec![(found.value, value.to_owned())]));
        }
        if !inline.is_empty() && !inline.starts_with('#') {
            return Err(EditError::at(
                path,
                text,
                all[index].start,
                format!(
                    "`{wanted}` is written inline (`{inline}`); lading edits only block mappings: write it as one key per line"
                ),
            ));
        }
        // The children: following lines indented deeper than the entry.
        let child_end = (index + 1..end)
            .find(|&next| is_content(&all[next]) && indent_of(&all[next]) <= found.indent)
            .unwrap_or(end);
        parent_indent = Some(found.indent);
        parent_line = Some(index);
        indent = (index + 1..child_end)
            .find(|&next| is_content(&all[next]))
            .map(|next| indent_of(&all[next]));
        start = index + 1;
        end = child_end;
        if indent.is_some_and(|child| child <= found.indent) {
            indent = None;
        }
    }
    // Insert the missing keys after the mapping's last content line.
    let base = indent.unwrap_or_else(|| parent_indent.map_or(0, |parent| parent + 2));
    let mut block = String::new();
    block.push_str(&" ".repeat(base));
    block.push_str("# ");
    block.push_str(MARKER);
    block.push_str(newline);
    for (depth, name) in missing.iter().enumerate() {
        block.push_str(&" ".repeat(base + 2 * depth));
        block.push_str(name);
        block.push(':');
        if depth + 1 == missing.len() {
            block.push(' ');
            block.push_str(value);
        }
        block.push_str(newline);
    }
    let last_content = (start..end).rev().find(|&index| is_content(&all[index]));
    let offset = match last_content.or(parent_line) {
        Some(index) if !parents.is_empty() || missing.len() < path_keys.len() => {
            all.get(index + 1).map_or(text.len(), |line| line.start)
        }
        _ => text.len(),
    };
    let prefix = if offset == text.len() && !text.is_empty() && !text.ends_with('\n') {
        newline
    } else {
        ""
    };
    Ok(splice(
        text,
        vec![(offset..offset, format!("{prefix}{block}"))],
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_for_an_empty_scope_go_under_it_not_after_the_next_top_level_key() {
        let login = YarnLogin {
            registry: "https://r/".to_owned(),
            scope: Some("acme".to_owned()),
            token: "t".to_owned(),
        };
        let path = Path::new(".yarnrc.yml");
        for text in [
            "npmScopes:\nenableTelemetry: false\n",
            "npmScopes:\n  acme:\nenableTelemetry: false\n",
        ] {
            let once = apply(path, text, &login).unwrap();
            assert!(once.ends_with("enableTelemetry: false\n"), "{once}");
            assert!(once.contains("npmAuthToken: \"t\"\n"), "{once}");
            assert_eq!(apply(path, &once, &login).unwrap(), once);
        }
    }

    #[test]
    fn fuzz_a_column_zero_line_after_an_empty_scope_is_idempotent() {
        let text = "machine 1\0\0sasswo login aws paegistryServer: \"ht/pts:/registry.yarnpkg.com\"\nnpmScopes:\n  acme:\nymous\n";
        for scope in [None, Some("acme".to_owned())] {
            let login = YarnLogin {
                registry: "http://127.0.0.1:8470/d/local/npm/main/".to_owned(),
                scope,
                token: "tok".to_owned(),
            };
            let path = Path::new(".yarnrc.yml");
            if let Ok(once) = apply(path, text, &login) {
                let twice = apply(path, &once, &login).unwrap();
                assert_eq!(once, twice, "{once}");
            }
        }
    }

    use super::*;

    fn login(scope: Option<&str>) -> YarnLogin {
        YarnLogin {
            registry: "http://127.0.0.1:4873/".to_owned(),
            scope: scope.map(str::to_owned),
            token: "tok".to_owned(),
        }
    }

    #[test]
    fn top_level_keys_are_replaced_in_place_or_appended_once() {
        let path = Path::new(".yarnrc.yml");
        let text = "# mine\nnodeLinker: node-modules\nnpmRegistryServer: 'https://old.example/' # keep\nenableTelemetry: false\n";
        let once = apply(path, text, &login(None)).unwrap();
        assert_eq!(
            once,
            format!(
                "# mine\nnodeLinker: node-modules\nnpmRegistryServer: \"http://127.0.0.1:4873/\" # keep\nenableTelemetry: false\n# {MARKER}\nnpmAlwaysAuth: true\n# {MARKER}\nnpmAuthToken: \"tok\"\n"
            )
        );
        assert_eq!(apply(path, &once, &login(None)).unwrap(), once);
    }

    #[test]
    fn scopes_go_under_npm_scopes_beside_other_scopes_and_keep_crlf() {
        let path = Path::new(".yarnrc.yml");
        let text = "npmScopes:\r\n    other:\r\n        npmRegistryServer: \"https://other/\"\r\nyarnPath: .yarn/releases/yarn.cjs\r\n";
        let once = apply(path, text, &login(Some("@acme"))).unwrap();
        assert_eq!(
            once,
            format!(
                "npmScopes:\r\n    other:\r\n        npmRegistryServer: \"https://other/\"\r\n    # {MARKER}\r\n    acme:\r\n      npmRegistryServer: \"http://127.0.0.1:4873/\"\r\n      # {MARKER}\r\n      npmAlwaysAuth: true\r\n      # {MARKER}\r\n      npmAuthToken: \"tok\"\r\nyarnPath: .yarn/releases/yarn.cjs\r\n"
            )
        );
        assert_eq!(apply(path, &once, &login(Some("acme"))).unwrap(), once);
        let fresh = apply(path, "", &login(Some("acme"))).unwrap();
        assert!(fresh.starts_with(&format!("# {MARKER}\nnpmScopes:\n  acme:\n    npmRegistryServer: \"http://127.0.0.1:4873/\"\n")), "{fresh}");
        assert_eq!(apply(path, &fresh, &login(Some("acme"))).unwrap(), fresh);
    }

    #[test]
    fn flow_mappings_are_refused_with_their_line() {
        let path = Path::new(".yarnrc.yml");
        let error = apply(
            path,
            "nodeLinker: pnp\nnpmScopes: {acme: {npmAlwaysAuth: true}}\n",
            &login(Some("acme")),
        )
        .unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.to_string().contains("inline"), "{error}");
    }
}
