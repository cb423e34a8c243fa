//! Client configuration for `lading login --tool pip|twine`: `pip.conf` gets an
//! `index-url` with no credentials in it (pip finds them in a 0600 netrc, see
//! [`crate::ecosystem::edit::apply_netrc`]); `.pypirc` gets a repository section listed in
//! `[distutils] index-servers`. Both are line-preserving configparser edits.

use std::path::Path;

use crate::ecosystem::edit::{EditError, IniDialect, IniSet, apply_ini, ini_get, newline_of};

/// Set `[global] index-url`.
///
/// # Errors
/// [`EditError`] naming the malformed line.
pub fn apply_pip_conf(path: &Path, text: &str, index_url: &str) -> Result<String, EditError> {
    apply_ini(
        path,
        text,
        IniDialect::ConfigParser,
        &[IniSet {
            section: Some("global".to_owned()),
            key: "index-url".to_owned(),
            value: index_url.to_owned(),
        }],
    )
}

/// Add repository `name` to `.pypirc`.
///
/// # Errors
/// [`EditError`] naming the malformed line.
pub fn apply_pypirc(
    path: &Path,
    text: &str,
    name: &str,
    repository: &str,
    username: &str,
    password: &str,
) -> Result<String, EditError> {
    let newline = newline_of(text);
    let servers = ini_get(
        path,
        text,
        IniDialect::ConfigParser,
        Some("distutils"),
        "index-servers",
    )?;
    let mut sets = Vec::new();
    let listed = servers
        .as_deref()
        .is_some_and(|value| value.split_whitespace().any(|server| server == name));
    if !listed {
        let current = servers.unwrap_or_default();
        let value = if current.trim().is_empty() {
            format!("{newline}    {name}")
        } else if current.contains('\n') {
            format!("{current}{newline}    {name}")
        } else {
            format!("{current} {name}")
        };
        sets.push(IniSet {
            section: Some("distutils".to_owned()),
            key: "index-servers".to_owned(),
            value,
        });
    }
    for (key, value) in [
        ("repository", repository),
        ("username", username),
        ("password", password),
    ] {
        sets.push(IniSet {
            section: Some(name.to_owned()),
            key: key.to_owned(),
            value: value.to_owned(),
        });
    }
    apply_ini(path, text, IniDialect::ConfigParser, &sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_regression_pypirc_without_index_servers_is_idempotent() {
        let apply = |text: &str| {
            apply_pypirc(
                Path::new(".pypirc"),
                text,
                "local-main",
                "http://127.0.0.1/",
                "aws",
                "tok",
            )
            .unwrap()
        };
        let once = apply("[distutils]\nusername: u\n");
        assert_eq!(once, apply(&once), "{once}");
    }

    #[test]
    fn pypirc_lists_the_server_once() {
        let text = "[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\n";
        let out = apply_pypirc(
            Path::new(".pypirc"),
            text,
            "codeartifact",
            "http://h/pypi/r/",
            "aws",
            "tok",
        )
        .unwrap();
        assert!(out.starts_with("[distutils]\nindex-servers =\n    pypi\n    codeartifact\n\n[pypi]\nusername = __token__\n\n[codeartifact]\n"), "{out}");
        assert_eq!(
            apply_pypirc(
                Path::new(".pypirc"),
                &out,
                "codeartifact",
                "http://h/pypi/r/",
                "aws",
                "tok"
            )
            .unwrap(),
            out
        );
        let fresh = apply_pypirc(
            Path::new(".pypirc"),
            "",
            "codeartifact",
            "http://h/",
            "aws",
            "tok",
        )
        .unwrap();
        assert!(fresh.starts_with("[distutils]\n# "), "{fresh}");
        assert!(
            fresh.contains("index-servers =\n    codeartifact\n"),
            "{fresh}"
        );
    }

    #[test]
    fn pip_conf_index_url_has_no_credentials() {
        let out = apply_pip_conf(
            Path::new("pip.conf"),
            "[global]\ntimeout = 5\n",
            "http://h/simple/",
        )
        .unwrap();
        assert_eq!(
            out,
            format!(
                "[global]\ntimeout = 5\n# {}\nindex-url = http://h/simple/\n",
                crate::ecosystem::edit::MARKER
            )
        );
    }
}
