//! `.npmrc` editing for `lading login --tool npm|pnpm`: the registry (or `@scope:registry`)
//! and the registry's `//host/path/:_authToken`. Line-preserving: every other line, comment
//! and line ending passes through byte for byte (see [`crate::ecosystem::edit::apply_ini`]).

use std::path::Path;

use crate::ecosystem::edit::{EditError, IniDialect, IniSet, apply_ini};

/// The "nerf dart" npm keys credentials by: `//host[:port]/path/` of the registry URL.
///
/// ```
/// let url = url::Url::parse("http://127.0.0.1:8470/d/local/npm/main/").unwrap();
/// assert_eq!(lading::ecosystem::npm::npmrc::nerf_dart(&url), "//127.0.0.1:8470/d/local/npm/main/");
/// ```
#[must_use]
pub fn nerf_dart(registry: &url::Url) -> String {
    let host = registry.host_str().unwrap_or_default();
    let port = registry
        .port()
        .map(|port| format!(":{port}"))
        .unwrap_or_default();
    let mut path = registry.path().to_owned();
    if !path.ends_with('/') {
        path.push('/');
    }
    format!("//{host}{port}{path}")
}

/// Point npm at `registry` (for `scope` only when given) with `token`.
///
/// # Errors
/// [`EditError`] naming the malformed line.
pub fn apply(
    path: &Path,
    text: &str,
    registry: &url::Url,
    scope: Option<&str>,
    token: &str,
) -> Result<String, EditError> {
    let mut registry_text = registry.to_string();
    if !registry_text.ends_with('/') {
        registry_text.push('/');
    }
    let key = match scope {
        Some(scope) => format!("@{}:registry", scope.trim_start_matches('@')),
        None => "registry".to_owned(),
    };
    apply_ini(
        path,
        text,
        IniDialect::Npmrc,
        &[
            IniSet {
                section: None,
                key,
                value: registry_text,
            },
            IniSet {
                section: None,
                key: format!("{}:_authToken", nerf_dart(registry)),
                value: token.to_owned(),
            },
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystem::edit::MARKER;

    #[test]
    fn fuzz_regression_blank_registry_line_is_idempotent() {
        let path = Path::new(".npmrc");
        let registry = url::Url::parse("http://127.0.0.1:8470/d/local/npm/main/").unwrap();
        let once = apply(path, " registry= ", &registry, None, "tok").unwrap();
        let twice = apply(path, &once, &registry, None, "tok").unwrap();
        assert_eq!(once, twice);
    }

    #[test]
    fn scoped_registry_keeps_other_lines_and_is_idempotent() {
        let registry = url::Url::parse("http://127.0.0.1:8470/d/local/npm/main/").unwrap();
        let text = "; company defaults\r\nregistry=https://registry.npmjs.org/\r\n@other:registry=https://npm.pkg.github.com/\r\n//npm.pkg.github.com/:_authToken=${GH_TOKEN}\r\nsave-exact=true";
        let out = apply(Path::new(".npmrc"), text, &registry, Some("acme"), "tok").unwrap();
        assert_eq!(
            out,
            format!(
                "{text}\r\n# {MARKER}\r\n@acme:registry=http://127.0.0.1:8470/d/local/npm/main/\r\n//127.0.0.1:8470/d/local/npm/main/:_authToken=tok\r\n"
            )
        );
        assert_eq!(
            apply(Path::new(".npmrc"), &out, &registry, Some("acme"), "tok").unwrap(),
            out
        );
        let again = apply(Path::new(".npmrc"), &out, &registry, None, "tok2").unwrap();
        assert!(
            again.contains("\r\nregistry=http://127.0.0.1:8470/d/local/npm/main/\r\n"),
            "{again}"
        );
        assert!(again.contains(":_authToken=tok2\r\n"), "{again}");
    }

    #[test]
    fn unterminated_section_is_an_error_with_its_line() {
        let registry = url::Url::parse("http://h/").unwrap();
        let error = apply(Path::new(".npmrc"), "a=1\n[oops\n", &registry, None, "t").unwrap_err();
        assert_eq!(error.line, 2);
    }
}
