//! `settings.xml` editing for `lading login --tool maven`: a `<server>` with the
//! credentials, and either a profile (repository + plugin repository, activated in
//! `<activeProfiles>`) or a `<mirror>`. Event-level edits through
//! [`crate::ecosystem::xml_edit`]: comments, other servers and profiles, and the file's own
//! formatting survive; running it twice gives the same bytes.

use std::path::Path;

use crate::ecosystem::configure::MavenMode;
use crate::ecosystem::edit::{EditError, MARKER, splice};
use crate::ecosystem::xml_edit::{self, Element, Layout, append_child, escape, replace_element};

/// What to write.
#[derive(Debug, Clone)]
pub struct MavenLogin {
    /// Server / repository / profile / mirror id.
    pub id: String,
    /// Repository URL.
    pub url: String,
    /// Basic-auth user name.
    pub username: String,
    /// The password: the token, or a `${env.VAR}` reference.
    pub password: String,
    /// Profile or mirror.
    pub mode: MavenMode,
}

const EMPTY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<settings xmlns=\"http://maven.apache.org/SETTINGS/1.2.0\"\n          xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n          xsi:schemaLocation=\"http://maven.apache.org/SETTINGS/1.2.0 https://maven.apache.org/xsd/settings-1.2.0.xsd\">\n</settings>\n";

fn marked(fragment: &str) -> String {
    format!("<!-- {MARKER} -->\n{fragment}")
}

fn server(login: &MavenLogin) -> String {
    format!(
        "<server>\n  <id>{}</id>\n  <username>{}</username>\n  <password>{}</password>\n</server>",
        escape(&login.id),
        escape(&login.username),
        escape(&login.password)
    )
}

fn repository(tag: &str, login: &MavenLogin) -> String {
    format!(
        "<{tag}>\n  <id>{}</id>\n  <url>{}</url>\n  <releases>\n    <enabled>true</enabled>\n  </releases>\n  <snapshots>\n    <enabled>true</enabled>\n  </snapshots>\n</{tag}>",
        escape(&login.id),
        escape(&login.url)
    )
}

fn indent(fragment: &str) -> String {
    fragment
        .lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn profile(login: &MavenLogin) -> String {
    format!(
        "<profile>\n  <id>{}</id>\n  <repositories>\n{}\n  </repositories>\n  <pluginRepositories>\n{}\n  </pluginRepositories>\n</profile>",
        escape(&login.id),
        indent(&repository("repository", login)),
        indent(&repository("pluginRepository", login))
    )
}

fn mirror(login: &MavenLogin) -> String {
    format!(
        "<mirror>\n  <id>{}</id>\n  <mirrorOf>*</mirrorOf>\n  <url>{}</url>\n</mirror>",
        escape(&login.id),
        escape(&login.url)
    )
}

/// One edit step: find (or create) `container` under the root, then replace the child
/// matched by `matches` with `fragment`, or append `fragment` when none matches.
fn upsert(
    path: &Path,
    text: &str,
    container: &str,
    matches: &dyn Fn(&Element) -> bool,
    fragment: &str,
    // When the matching child exists, leave it as is (`<activeProfile>`).
    keep_existing: bool,
) -> Result<String, EditError> {
    let layout = Layout::of(text);
    let root = root(path, text)?;
    let Some(parent) = root
        .children
        .iter()
        .find(|child| xml_edit::local(&child.name) == container)
    else {
        let wrapped = format!(
            "<{container}>\n{}\n</{container}>",
            fragment
                .lines()
                .map(|line| format!("  {line}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let replacement = append_child(text, &layout, &root, &marked(&wrapped));
        return Ok(splice(text, vec![replacement]));
    };
    if let Some(existing) = parent.children.iter().find(|child| matches(child)) {
        if keep_existing {
            return Ok(text.to_owned());
        }
        let replacement = replace_element(text, &layout, existing, fragment);
        return Ok(splice(text, vec![replacement]));
    }
    let replacement = append_child(text, &layout, parent, &marked(fragment));
    Ok(splice(text, vec![replacement]))
}

fn root(path: &Path, text: &str) -> Result<Element, EditError> {
    let root = xml_edit::parse(path, text)?
        .ok_or_else(|| EditError::at(path, text, text.len(), "no `<settings>` element"))?;
    if xml_edit::local(&root.name) != "settings" {
        return Err(EditError::at(
            path,
            text,
            root.span.start,
            format!("the root element is `<{}>`, not `<settings>`", root.name),
        ));
    }
    Ok(root)
}

/// Apply a login to `settings.xml` text (empty text: a new file).
///
/// # Errors
/// [`EditError`] naming the line of malformed XML or a wrong root element.
pub fn apply(path: &Path, text: &str, login: &MavenLogin) -> Result<String, EditError> {
    let mut text = if text.trim().is_empty() {
        EMPTY.to_owned()
    } else {
        text.to_owned()
    };
    root(path, &text)?;
    let id = login.id.as_str();
    let has_id = |element: &Element| element.child_text("id") == Some(id);
    text = upsert(path, &text, "servers", &has_id, &server(login), false)?;
    match login.mode {
        MavenMode::Profile => {
            text = upsert(path, &text, "profiles", &has_id, &profile(login), false)?;
            let fragment = format!("<activeProfile>{}</activeProfile>", escape(id));
            text = upsert(
                path,
                &text,
                "activeProfiles",
                &|element: &Element| element.text == id,
                &fragment,
                true,
            )?;
        }
        MavenMode::Mirror => {
            text = upsert(path, &text, "mirrors", &has_id, &mirror(login), false)?;
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bom_is_kept_and_edits_land_where_they_belong() {
        let text = "\u{feff}<settings>\n  <servers>\n    <server><id>x</id></server>\n  </servers>\n  <mirrors></mirrors>\n</settings>\n";
        let login = MavenLogin {
            id: "local-main".to_owned(),
            url: "http://127.0.0.1:8470/d/local/maven/main/".to_owned(),
            username: "aws".to_owned(),
            password: "${env.TOKEN}".to_owned(),
            mode: MavenMode::Mirror,
        };
        let path = Path::new("settings.xml");
        let once = apply(path, text, &login).unwrap();
        assert!(once.starts_with('\u{feff}'));
        assert!(once.contains("<server><id>x</id></server>"), "{once}");
        assert!(once.contains("</mirrors>\n</settings>"), "{once}");
        assert_eq!(apply(path, &once, &login).unwrap(), once);
    }

    #[test]
    fn fuzz_stray_text_between_elements_is_kept_and_reparses() {
        let text = "\u{feff}<?xml version=\"0.0\"?>\n<settings>\n  <!-- c -->\n  <servers>\n    <server><id>local-main</id><username>u</username><password>p</password></server>\n  </servers>\n  ofile>\u{1f}/acitevProfiles>\n  <mirrors></mirrors>\n</settings>\n";
        for mode in [MavenMode::Profile, MavenMode::Mirror] {
            let login = MavenLogin {
                id: "local-main".to_owned(),
                url: "http://127.0.0.1:8470/d/local/maven/main/".to_owned(),
                username: "aws".to_owned(),
                password: "${env.TOKEN}".to_owned(),
                mode,
            };
            let path = Path::new("settings.xml");
            if let Ok(once) = apply(path, text, &login) {
                let twice =
                    apply(path, &once, &login).unwrap_or_else(|error| panic!("{error}\n{once}"));
                assert_eq!(once, twice);
            }
        }
    }

    use super::*;

    fn login(mode: MavenMode) -> MavenLogin {
        MavenLogin {
            id: "codeartifact".into(),
            url: "http://127.0.0.1:1/d/local/maven/main/".into(),
            username: "aws".into(),
            password: "tok&en".into(),
            mode,
        }
    }

    #[test]
    fn new_file_gets_server_profile_and_active_profile() {
        let out = apply(Path::new("settings.xml"), "", &login(MavenMode::Profile)).unwrap();
        assert!(out.contains("<password>tok&amp;en</password>"), "{out}");
        assert!(
            out.contains("<activeProfile>codeartifact</activeProfile>"),
            "{out}"
        );
        assert!(out.contains("<pluginRepository>"), "{out}");
        let root = xml_edit::parse(Path::new("s"), &out).unwrap().unwrap();
        assert_eq!(root.children.len(), 3);
        assert_eq!(
            apply(Path::new("settings.xml"), &out, &login(MavenMode::Profile)).unwrap(),
            out
        );
    }

    #[test]
    fn existing_content_and_comments_survive_and_server_is_replaced_in_place() {
        let text = "<?xml version=\"1.0\"?>\r\n<!-- mine -->\r\n<settings>\r\n\t<servers>\r\n\t\t<server><id>other</id></server>\r\n\t\t<server>\r\n\t\t\t<id>codeartifact</id>\r\n\t\t\t<password>old</password>\r\n\t\t</server>\r\n\t</servers>\r\n\t<mirrors/>\r\n</settings>\r\n";
        let out = apply(Path::new("settings.xml"), text, &login(MavenMode::Mirror)).unwrap();
        assert!(out.starts_with("<?xml version=\"1.0\"?>\r\n<!-- mine -->\r\n<settings>\r\n\t<servers>\r\n\t\t<server><id>other</id></server>\r\n\t\t<server>\r\n\t\t\t<id>codeartifact</id>\r\n\t\t\t<username>aws</username>\r\n"), "{out}");
        assert!(!out.contains("old"), "{out}");
        assert!(out.contains("\t<mirrors>\r\n\t\t<!--"), "{out}");
        assert!(
            !out.replace("\r\n", "").contains('\n'),
            "LF leaked into a CRLF file: {out:?}"
        );
        assert_eq!(
            apply(Path::new("settings.xml"), &out, &login(MavenMode::Mirror)).unwrap(),
            out
        );
    }

    #[test]
    fn malformed_settings_name_the_line() {
        let error = apply(
            Path::new("settings.xml"),
            "<settings>\n  <servers>\n  </server>\n</settings>\n",
            &login(MavenMode::Profile),
        )
        .unwrap_err();
        assert_eq!(error.line, 3, "{error}");
        assert!(error.to_string().contains("settings.xml"));
    }
}
