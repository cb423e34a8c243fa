//! `nuget.config` editing for `lading login --tool nuget`: a `<packageSources>` entry and
//! its `<packageSourceCredentials>` element, whose name is the source key encoded the way
//! .NET's `XmlConvert.EncodeLocalName` does (`local/main` → `local_x002F_main`). A
//! `<clear/>` in `<packageSources>` stays before the new source (so it still clears only
//! the inherited ones), and when the file has a `<packageSourceMapping>` the new source gets
//! a mapping too (otherwise NuGet would never use it).

use std::path::Path;

use crate::ecosystem::edit::{EditError, MARKER, splice};
use crate::ecosystem::xml_edit::{self, Element, Layout, append_child, escape, replace_element};

/// What to write.
#[derive(Debug, Clone)]
pub struct NuGetLogin {
    /// Source key (`local/main`).
    pub name: String,
    /// The feed URL: a v3 service index (`.../index.json`) or a v2 feed root.
    pub url: String,
    /// Basic-auth user name.
    pub username: String,
    /// The token (clear text: `Password` would mean DPAPI, Windows only).
    pub password: String,
    /// Package-id prefix routed to this source when the file uses package source mapping.
    pub namespace: Option<String>,
}

const EMPTY: &str =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n</configuration>\n";

fn is_name_start(character: char) -> bool {
    character == '_' || character.is_alphabetic()
}

fn is_name_char(character: char) -> bool {
    is_name_start(character) || character.is_numeric() || matches!(character, '-' | '.' | '\u{b7}')
}

/// .NET `XmlConvert.EncodeLocalName`: characters not allowed in an XML NCName become
/// `_xHHHH_`, and a `_` that would read as such an escape is escaped itself.
///
/// ```
/// use lading::ecosystem::nuget::config::encode_local_name;
/// assert_eq!(encode_local_name("local/main"), "local_x002F_main");
/// assert_eq!(encode_local_name("1 feed:x"), "_x0031__x0020_feed_x003A_x");
/// assert_eq!(encode_local_name("a_x0041_"), "a_x005F_x0041_");
/// ```
#[must_use]
pub fn encode_local_name(name: &str) -> String {
    let characters: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (index, character) in characters.iter().enumerate() {
        let looks_escaped = *character == '_'
            && characters.get(index + 1) == Some(&'x')
            && characters.len() > index + 6
            && characters[index + 2..index + 6]
                .iter()
                .all(char::is_ascii_hexdigit)
            && characters[index + 6] == '_';
        let valid = if index == 0 {
            is_name_start(*character)
        } else {
            is_name_char(*character)
        };
        if looks_escaped || !valid {
            let code = u32::from(*character);
            let escaped = if code > 0xFFFF {
                format!("_x{code:08X}_")
            } else {
                format!("_x{code:04X}_")
            };
            out.push_str(&escaped);
        } else {
            out.push(*character);
        }
    }
    out
}

fn root(path: &Path, text: &str) -> Result<Element, EditError> {
    let root = xml_edit::parse(path, text)?
        .ok_or_else(|| EditError::at(path, text, text.len(), "no `<configuration>` element"))?;
    if root.name != "configuration" {
        return Err(EditError::at(
            path,
            text,
            root.span.start,
            format!(
                "the root element is `<{}>`, not `<configuration>`",
                root.name
            ),
        ));
    }
    Ok(root)
}

fn upsert(
    path: &Path,
    text: &str,
    container: &str,
    matches: &dyn Fn(&Element) -> bool,
    fragment: &str,
    create_container: bool,
) -> Result<String, EditError> {
    let layout = Layout::of(text);
    let root = root(path, text)?;
    let Some(parent) = root.children.iter().find(|child| child.name == container) else {
        if !create_container {
            return Ok(text.to_owned());
        }
        let wrapped = format!(
            "<!-- {MARKER} -->\n<{container}>\n{}\n</{container}>",
            fragment
                .lines()
                .map(|line| format!("  {line}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        return Ok(splice(
            text,
            vec![append_child(text, &layout, &root, &wrapped)],
        ));
    };
    if let Some(existing) = parent.children.iter().find(|child| matches(child)) {
        return Ok(splice(
            text,
            vec![replace_element(text, &layout, existing, fragment)],
        ));
    }
    let marked = format!("<!-- {MARKER} -->\n{fragment}");
    Ok(splice(
        text,
        vec![append_child(text, &layout, parent, &marked)],
    ))
}

/// Apply a login to `nuget.config` text (empty text: a new file).
///
/// # Errors
/// [`EditError`] naming the line of malformed XML or a wrong root element.
pub fn apply(path: &Path, text: &str, login: &NuGetLogin) -> Result<String, EditError> {
    let mut text = if text.trim().is_empty() {
        EMPTY.to_owned()
    } else {
        text.to_owned()
    };
    root(path, &text)?;
    let name = login.name.as_str();
    let same_key = |element: &Element| {
        element.name == "add"
            && element
                .attribute("key")
                .is_some_and(|key| key.eq_ignore_ascii_case(name))
    };
    // NuGet's own rule: a source ending in `.json` is a v3 service index; anything else
    // (a v2 OData feed such as pynuget, Nexus or Artifactory v2) must not claim v3, or
    // nuget.exe tries to parse the feed's XML as JSON.
    let protocol = if login.url.to_ascii_lowercase().ends_with(".json") {
        " protocolVersion=\"3\""
    } else {
        ""
    };
    let source = format!(
        "<add key=\"{}\" value=\"{}\"{protocol} />",
        escape(name),
        escape(&login.url)
    );
    text = upsert(path, &text, "packageSources", &same_key, &source, true)?;
    let encoded = encode_local_name(name);
    let credentials = format!(
        "<{encoded}>\n  <add key=\"Username\" value=\"{}\" />\n  <add key=\"ClearTextPassword\" value=\"{}\" />\n</{encoded}>",
        escape(&login.username),
        escape(&login.password)
    );
    text = upsert(
        path,
        &text,
        "packageSourceCredentials",
        &|element: &Element| element.name.eq_ignore_ascii_case(&encoded),
        &credentials,
        true,
    )?;
    let pattern = login
        .namespace
        .as_deref()
        .map_or_else(|| "*".to_owned(), |namespace| format!("{namespace}.*"));
    let mapping = format!(
        "<packageSource key=\"{}\">\n  <package pattern=\"{}\" />\n</packageSource>",
        escape(name),
        escape(&pattern)
    );
    text = upsert(
        path,
        &text,
        "packageSourceMapping",
        &|element: &Element| {
            element.name == "packageSource"
                && element
                    .attribute("key")
                    .is_some_and(|key| key.eq_ignore_ascii_case(name))
        },
        &mapping,
        false,
    )?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> NuGetLogin {
        NuGetLogin {
            name: "local/main".into(),
            url: "http://127.0.0.1:1/d/local/nuget/main/v3/index.json".into(),
            username: "aws".into(),
            password: "t\"ok".into(),
            namespace: Some("Acme".into()),
        }
    }

    #[test]
    fn clear_stays_first_and_mapping_gets_the_source() {
        let text = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <clear />\n    <add key=\"nuget.org\" value=\"https://api.nuget.org/v3/index.json\" />\n  </packageSources>\n  <packageSourceMapping>\n    <packageSource key=\"nuget.org\">\n      <package pattern=\"*\" />\n    </packageSource>\n  </packageSourceMapping>\n</configuration>\n";
        let out = apply(Path::new("nuget.config"), text, &login()).unwrap();
        let root = xml_edit::parse(Path::new("n"), &out).unwrap().unwrap();
        let sources = root.child("packageSources").unwrap();
        assert_eq!(sources.children[0].name, "clear");
        assert_eq!(sources.children[2].attribute("key"), Some("local/main"));
        let credentials = root.child("packageSourceCredentials").unwrap();
        assert_eq!(credentials.children[0].name, "local_x002F_main");
        assert_eq!(
            credentials.children[0].children[1].attribute("value"),
            Some("t\"ok")
        );
        let mapping = root.child("packageSourceMapping").unwrap();
        assert_eq!(
            mapping.children[1].children[0].attribute("pattern"),
            Some("Acme.*")
        );
        assert_eq!(
            apply(Path::new("nuget.config"), &out, &login()).unwrap(),
            out
        );
    }

    #[test]
    fn no_mapping_section_is_created() {
        let out = apply(Path::new("nuget.config"), "", &login()).unwrap();
        assert!(!out.contains("packageSourceMapping"), "{out}");
        assert!(out.contains("<local_x002F_main>"), "{out}");
    }
}
