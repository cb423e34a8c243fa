//! `lading login --tool poetry`: what `poetry config repositories.<name> <url>` and
//! `poetry config http-basic.<name> <user> <password>` write when no keyring is in use
//! (Poetry 2.5: `config.toml` holds `[repositories.<name>] url = "..."`, `auth.toml` holds
//! `[http-basic.<name>] username = "..." password = "..."`, both 0600), edited with
//! `toml_edit` so the user's other settings and comments survive.
//!
//! Poetry sends a repository's `http-basic` credentials to every URL under the repository's
//! `url` (its authenticator matches configured repositories by URL prefix), so the one
//! repository at the endpoint's root serves both `poetry publish -r <name>` (it uploads to the
//! root, as twine does) and installs from `<root>/simple/` declared as a source.

use std::path::Path;

use toml_edit::{Item, Table};

use crate::ecosystem::edit::{EditError, MARKER};
use crate::ecosystem::pypi::uv::{keep_decor, parse, render};

/// Set `[<section>.<name>]`'s `values` (e.g. `repositories` / `codeartifact` / `url`),
/// keeping every other key and the decoration of the values replaced.
///
/// # Errors
/// [`EditError`] for invalid TOML or a `section` (or its `name`) that is not a table.
pub fn apply(
    path: &Path,
    text: &str,
    section: &str,
    name: &str,
    values: &[(&str, &str)],
) -> Result<String, EditError> {
    let mut document = parse(path, text)?;
    let unchanged = values.iter().all(|(key, value)| {
        document
            .get(section)
            .and_then(|table| table.get(name))
            .and_then(|table| table.get(key))
            .and_then(Item::as_str)
            == Some(*value)
    });
    if unchanged {
        return Ok(text.to_owned());
    }
    let not_a_table = |what: &str| {
        EditError::at(
            path,
            text,
            text.find(what).unwrap_or(0),
            format!("`{what}` is not a table; lading adds `[{section}.{name}]` only to a table"),
        )
    };
    let outer = document.entry(section).or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    let outer = outer
        .as_table_like_mut()
        .ok_or_else(|| not_a_table(section))?;
    let prefix = if text.trim().is_empty() {
        format!("# {MARKER}\n")
    } else {
        format!("\n# {MARKER}\n")
    };
    let inner = outer.entry(name).or_insert_with(|| {
        let mut table = Table::new();
        table.decor_mut().set_prefix(prefix);
        Item::Table(table)
    });
    let inner = inner.as_table_like_mut().ok_or_else(|| not_a_table(name))?;
    for (key, value) in values {
        let item = keep_decor(*value, inner.get(key));
        inner.insert(key, item);
    }
    Ok(render(text, &document))
}

/// The env-var spelling of a repository name in `POETRY_REPOSITORIES_<NAME>_URL` and
/// `POETRY_HTTP_BASIC_<NAME>_*`, when Poetry can read it back: Poetry finds repositories
/// declared in the environment with `POETRY_REPOSITORIES_(?P<name>[A-Z_]+)_URL` and
/// lowercases the name, so only names of lowercase letters and `_` survive the round trip.
#[must_use]
pub fn env_name(name: &str) -> Option<String> {
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .then(|| name.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `poetry config repositories.codeartifact URL` and `poetry config
    /// http-basic.codeartifact aws tok` wrote (Poetry 2.5.1, keyring unavailable), with
    /// lading's marker comment added before the table.
    #[test]
    fn files_match_what_poetry_config_writes() {
        let config = apply(
            Path::new("config.toml"),
            "",
            "repositories",
            "codeartifact",
            &[("url", "http://127.0.0.1:8080/d/dom/pypi/repo/")],
        )
        .unwrap();
        assert_eq!(
            config,
            format!(
                "# {MARKER}\n[repositories.codeartifact]\nurl = \"http://127.0.0.1:8080/d/dom/pypi/repo/\"\n"
            )
        );
        let auth = apply(
            Path::new("auth.toml"),
            "",
            "http-basic",
            "codeartifact",
            &[("username", "aws"), ("password", "tok")],
        )
        .unwrap();
        assert_eq!(
            auth,
            format!(
                "# {MARKER}\n[http-basic.codeartifact]\nusername = \"aws\"\npassword = \"tok\"\n"
            )
        );
        assert_eq!(
            apply(
                Path::new("auth.toml"),
                &auth,
                "http-basic",
                "codeartifact",
                &[("username", "aws"), ("password", "tok")],
            )
            .unwrap(),
            auth
        );
    }

    #[test]
    fn other_repositories_and_settings_survive() {
        let text = "[virtualenvs]\nin-project = true # keep\n\n[repositories.codeartifact]\nurl = \"https://old/\" # old\n\n[repositories.corp]\nurl = \"https://corp/\"\n";
        let out = apply(
            Path::new("config.toml"),
            text,
            "repositories",
            "codeartifact",
            &[("url", "https://new/")],
        )
        .unwrap();
        assert_eq!(out, text.replace("https://old/", "https://new/"));
        assert_eq!(env_name("codeartifact").as_deref(), Some("CODEARTIFACT"));
        assert_eq!(env_name("my-repo"), None);
    }
}
