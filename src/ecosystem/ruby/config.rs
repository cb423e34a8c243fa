//! The two flat YAML files RubyGems and Bundler keep credentials in, where each is
//! ([`gem_credentials_path`], [`bundler_config_path`], read by `lading login` and `lading
//! doctor`) and how they are edited, line by line:
//!
//! - RubyGems' credentials file (`~/.gem/credentials`, else `$XDG_DATA_HOME/gem/credentials`;
//!   `Gem::ConfigFile#credentials_path`), which `gem signin --host URL` and
//!   `Gem::ConfigFile#set_api_key` write as `---` then one `KEY: VALUE` line per host:
//!   `:rubygems_api_key: …` for rubygems.org and `https://host/path/: …` for any other host.
//!   `gem push --host URL` sends that value as the `Authorization` header.
//! - Bundler's config (`~/.bundle/config`), which `bundle config set --global URL user:pass`
//!   writes as `BUNDLE_<KEY>: "user:pass"`, the key spelled by `Bundler::Settings.key_for`:
//!   the URL with a trailing `/`, `.` as `__`, `-` as `___`, upper-cased
//!   (`BUNDLE_HTTPS://GEMS__EXAMPLE__COM/PRIVATE/`). Bundler looks credentials up by the
//!   source URL, then by its host (`Settings#credentials_for`).
//!
//! Both tools parse these files with a line-oriented reader (Bundler's own
//! `YAMLSerializer`), so the editor changes only the line of the key it owns and appends a
//! missing key after a [`MARKER`] comment.

use std::path::{Path, PathBuf};

use crate::ecosystem::configure::home;
use crate::ecosystem::edit::{EditError, MARKER, lines, newline_of, splice};
use crate::env_vars::EnvVars;

/// RubyGems' credentials file: `~/.gem/credentials` when it exists, else
/// `$XDG_DATA_HOME/gem/credentials` when that exists (`Gem::ConfigFile#credentials_path`,
/// RubyGems 3.3), else `~/.gem/credentials`, which every RubyGems reads first.
///
/// # Errors
/// `HOME` is not set.
pub fn gem_credentials_path() -> anyhow::Result<PathBuf> {
    let home = home()?;
    let classic = home.join(".gem/credentials");
    let data_home = EnvVars::get(EnvVars::XDG_DATA_HOME)
        .map_or_else(|| home.join(".local/share"), PathBuf::from);
    let xdg = data_home.join("gem/credentials");
    Ok(if !classic.exists() && xdg.exists() {
        xdg
    } else {
        classic
    })
}

/// Bundler's user config: `BUNDLE_USER_CONFIG`, else `$BUNDLE_USER_HOME/config`, else
/// `~/.bundle/config` (`Bundler.user_bundle_path("config")`).
///
/// # Errors
/// `HOME` is not set.
pub fn bundler_config_path() -> anyhow::Result<PathBuf> {
    if let Some(path) = EnvVars::get(EnvVars::BUNDLE_USER_CONFIG) {
        return Ok(PathBuf::from(path));
    }
    if let Some(dir) = EnvVars::get(EnvVars::BUNDLE_USER_HOME) {
        return Ok(PathBuf::from(dir).join("config"));
    }
    Ok(home()?.join(".bundle/config"))
}

/// Bundler's key for a setting (`Bundler::Settings.key_for`, bundler 2.3): URLs get a
/// trailing `/`, then `.` → `__`, `-` → `___`, upper case, `BUNDLE_` prefix.
///
/// ```
/// use lading::ecosystem::ruby::config::bundler_key;
/// assert_eq!(
///     bundler_key("http://127.0.0.1:8080/d/dom/ruby/repo"),
///     "BUNDLE_HTTP://127__0__0__1:8080/D/DOM/RUBY/REPO/"
/// );
/// assert_eq!(bundler_key("gems.my-corp.example"), "BUNDLE_GEMS__MY___CORP__EXAMPLE");
/// ```
#[must_use]
pub fn bundler_key(key: &str) -> String {
    let key = if key.starts_with("http") && !key.ends_with('/') {
        format!("{key}/")
    } else {
        key.to_owned()
    };
    format!(
        "BUNDLE_{}",
        key.replace('.', "__")
            .replace('-', "___")
            .to_ascii_uppercase()
    )
}

/// A value as Ruby's `String#inspect` writes it (what Bundler's config holds): double
/// quotes, with `"`, `\` and `#{` escaped.
#[must_use]
pub fn ruby_inspect(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut characters = value.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '#' if matches!(characters.peek(), Some('{' | '$' | '@')) => out.push_str("\\#"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// A value as Psych (`to_yaml`) writes a plain string when it can, double-quoted otherwise
/// (what RubyGems' credentials file holds).
#[must_use]
pub fn yaml_scalar(value: &str) -> String {
    let plain = value
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric())
        && !value.ends_with(' ')
        && !value.contains(": ")
        && !value.contains(" #")
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " ._~+/=-".contains(c))
        && !matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
        && value.parse::<f64>().is_err();
    if plain {
        value.to_owned()
    } else {
        serde_json::Value::String(value.to_owned()).to_string()
    }
}

/// The key of a top-level `KEY: VALUE` line and the byte range of its value.
fn key_and_value(line: &str) -> Option<(String, std::ops::Range<usize>)> {
    if line.starts_with([' ', '\t', '#', '-']) || line.trim().is_empty() {
        return None;
    }
    let (key, rest_at) = if let Some(quote @ ('"' | '\'')) = line.chars().next() {
        let close = line[1..].find(quote)? + 1;
        (line[1..close].to_owned(), close + 1)
    } else {
        let colon = line
            .find(": ")
            .or_else(|| line.strip_suffix(':').map(str::len))?;
        (line[..colon].to_owned(), colon)
    };
    let rest = line.get(rest_at..)?;
    let after_colon = rest.strip_prefix(':')?;
    let start = rest_at + 1 + (after_colon.len() - after_colon.trim_start().len());
    Some((key, start..line.len()))
}

/// Set top-level `key` to the already-rendered `value` in a flat YAML file: an existing
/// line keeps its place and key spelling; a missing key is appended after a [`MARKER`]
/// comment (and a `---` header in a new file, as both tools write one).
///
/// # Errors
/// [`EditError`] for a file that is not a flat mapping (a nested value under the key).
pub fn apply_key(path: &Path, text: &str, key: &str, value: &str) -> Result<String, EditError> {
    let all = lines(text);
    for (index, line) in all.iter().enumerate() {
        let Some((found, range)) = key_and_value(line.text) else {
            continue;
        };
        if found != key {
            continue;
        }
        let nested = range.is_empty()
            && all
                .get(index + 1)
                .is_some_and(|next| next.text.starts_with([' ', '\t', '-']));
        if nested {
            return Err(EditError::at(
                path,
                text,
                line.start,
                format!("`{key}` holds a nested value; lading sets only a plain one"),
            ));
        }
        let range = line.start + range.start..line.start + range.end;
        if text[range.clone()] == *value {
            return Ok(text.to_owned());
        }
        return Ok(splice(text, vec![(range, value.to_owned())]));
    }
    let newline = newline_of(text);
    let mut out = text.to_owned();
    if out.trim().is_empty() {
        out = format!("---{newline}");
    } else if !out.ends_with('\n') {
        out.push_str(newline);
    }
    for part in ["# ", MARKER, newline, key, ": ", value, newline] {
        out.push_str(part);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `gem`'s `Gem::ConfigFile#set_api_key` (RubyGems 3.3.15) wrote, for two hosts:
    /// `---\nhttp://127.0.0.1:8080/d/dom/ruby/repo/: Bearer tok\nhttps://rubygems.org: defkey\n`.
    #[test]
    fn gem_credentials_lines_match_what_gem_writes() {
        let path = Path::new("credentials");
        let host = "http://127.0.0.1:8080/d/dom/ruby/repo/";
        let written = apply_key(path, "", host, &yaml_scalar("Bearer tok")).unwrap();
        assert_eq!(
            written,
            format!("---\n# {MARKER}\nhttp://127.0.0.1:8080/d/dom/ruby/repo/: Bearer tok\n")
        );
        let gems = "---\n:rubygems_api_key: rubygems_abc\nhttp://127.0.0.1:8080/d/dom/ruby/repo/: Bearer old\nhttps://other.example/: k2\n";
        let out = apply_key(path, gems, host, &yaml_scalar("Bearer tok")).unwrap();
        assert_eq!(out, gems.replace("Bearer old", "Bearer tok"));
        assert_eq!(
            apply_key(path, &out, host, &yaml_scalar("Bearer tok")).unwrap(),
            out
        );
        assert_eq!(yaml_scalar("true"), "\"true\"");
        assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
        assert_eq!(yaml_scalar("eyJ0.x_y-z="), "eyJ0.x_y-z=");
    }

    /// `bundle config set --global http://127.0.0.1:8080/d/dom/ruby/repo/ aws:tok` and
    /// `bundle config set --global rubygems.pkg.github.com user:pass` (Bundler 2.3.15) wrote
    /// `---\nBUNDLE_HTTP://127__0__0__1:8080/D/DOM/RUBY/REPO/: "aws:tok"\nBUNDLE_RUBYGEMS__PKG__GITHUB__COM: "user:pass"\n`.
    #[test]
    fn bundler_lines_match_what_bundle_config_writes() {
        let path = Path::new("config");
        let existing = "---\nBUNDLE_JOBS: \"4\"\nBUNDLE_HTTP://127__0__0__1:8080/D/DOM/RUBY/REPO/: \"aws:old\"\n";
        let key = bundler_key("http://127.0.0.1:8080/d/dom/ruby/repo/");
        let out = apply_key(path, existing, &key, &ruby_inspect("aws:tok")).unwrap();
        assert_eq!(out, existing.replace("aws:old", "aws:tok"));
        assert_eq!(
            bundler_key("rubygems.pkg.github.com"),
            "BUNDLE_RUBYGEMS__PKG__GITHUB__COM"
        );
        assert_eq!(ruby_inspect("a\"b#{c}"), "\"a\\\"b\\#{c}\"");
        let error = apply_key(path, "---\nBUNDLE_X:\n  - a\n", "BUNDLE_X", "\"v\"").unwrap_err();
        assert_eq!(error.line, 2);
    }
}
