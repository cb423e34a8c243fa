//! PEP 508 environment markers (`numpy==2.4.6 ; python_full_version < '3.12'`), evaluated
//! against a target environment the way `packaging.markers` does, so that a universal
//! lockfile (`uv pip compile --universal`, `pylock.toml`) restores only the requirements pip
//! would install on the target.

use std::collections::BTreeMap;

use super::pep440::{Specifiers, Version};

/// The marker variables of an environment (`python_version`, `sys_platform`, ...), as
/// `packaging.markers.default_environment()` gives them.
pub type Environment = BTreeMap<String, String>;

/// A marker that cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid marker `{marker}`: {reason}")]
pub struct MarkerError {
    /// The marker as written.
    pub marker: String,
    /// What is wrong.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Text(String),
    Operator(&'static str),
    Open,
    Close,
}

fn tokenize(marker: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut rest = marker.trim_start();
    while !rest.is_empty() {
        if let Some(tail) = rest.strip_prefix('(') {
            tokens.push(Token::Open);
            rest = tail;
        } else if let Some(tail) = rest.strip_prefix(')') {
            tokens.push(Token::Close);
            rest = tail;
        } else if let Some(quote) = rest.chars().next().filter(|c| matches!(c, '\'' | '"')) {
            let body = &rest[1..];
            let end = body
                .find(quote)
                .ok_or_else(|| "an unterminated string".to_owned())?;
            tokens.push(Token::Text(body[..end].to_owned()));
            rest = &body[end + 1..];
        } else if let Some(operator) = ["===", "==", "!=", "<=", ">=", "~=", "<", ">"]
            .into_iter()
            .find(|operator| rest.starts_with(operator))
        {
            tokens.push(Token::Operator(operator));
            rest = &rest[operator.len()..];
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.')))
                .unwrap_or(rest.len());
            if end == 0 {
                let unexpected = rest.chars().next().unwrap_or_default();
                return Err(format!("unexpected `{unexpected}`"));
            }
            tokens.push(Token::Word(rest[..end].to_owned()));
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    environment: &'a Environment,
}

impl Parser<'_> {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(found)) if found == word)
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut value = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            // Both sides are parsed whatever the left gave, so a syntax error always shows.
            let right = self.and()?;
            value = value || right;
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut value = self.atom()?;
        while self.peek_word("and") {
            self.at += 1;
            let right = self.atom()?;
            value = value && right;
        }
        Ok(value)
    }

    fn atom(&mut self) -> Result<bool, String> {
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let value = self.or()?;
            if self.tokens.get(self.at) != Some(&Token::Close) {
                return Err("a `(` without its `)`".to_owned());
            }
            self.at += 1;
            return Ok(value);
        }
        let (left, left_variable) = self.value()?;
        let operator = match self.tokens.get(self.at) {
            Some(Token::Operator(operator)) => {
                self.at += 1;
                *operator
            }
            Some(Token::Word(word)) if word == "in" => {
                self.at += 1;
                "in"
            }
            Some(Token::Word(word))
                if word == "not"
                    && self.tokens.get(self.at + 1) == Some(&Token::Word("in".to_owned())) =>
            {
                self.at += 2;
                "not in"
            }
            _ => return Err("a comparison without an operator".to_owned()),
        };
        let (right, right_variable) = self.value()?;
        // `extra` names compare normalized (PEP 685).
        let extra =
            left_variable.as_deref() == Some("extra") || right_variable.as_deref() == Some("extra");
        let (left, right) = if extra {
            (super::normalize_name(&left), super::normalize_name(&right))
        } else {
            (left, right)
        };
        compare(&left, operator, &right)
    }

    /// A string literal or a variable's value, with the variable's canonical name.
    fn value(&mut self) -> Result<(String, Option<String>), String> {
        match self.tokens.get(self.at).cloned() {
            Some(Token::Text(text)) => {
                self.at += 1;
                Ok((text, None))
            }
            Some(Token::Word(word)) => {
                self.at += 1;
                let name = match word.as_str() {
                    "os.name" => "os_name",
                    "sys.platform" => "sys_platform",
                    "platform.version" => "platform_version",
                    "platform.machine" => "platform_machine",
                    "platform.python_implementation" | "python_implementation" => {
                        "platform_python_implementation"
                    }
                    other => other,
                };
                let value = self
                    .environment
                    .get(name)
                    .cloned()
                    .or_else(|| (name == "extra").then(String::new))
                    .ok_or_else(|| format!("unknown variable `{word}`"))?;
                Ok((value, Some(name.to_owned())))
            }
            _ => Err("a value was expected".to_owned()),
        }
    }
}

/// `packaging.markers._eval_op`: a version comparison when the right side reads as a
/// specifier and the left as a version, else a string comparison.
fn compare(left: &str, operator: &str, right: &str) -> Result<bool, String> {
    match operator {
        "in" => return Ok(right.contains(left)),
        "not in" => return Ok(!right.contains(left)),
        _ => {}
    }
    if let (Some(specifiers), Some(version)) = (
        Specifiers::parse(&format!("{operator}{right}")),
        Version::parse(left),
    ) {
        return Ok(specifiers.contains(&version));
    }
    Ok(match operator {
        "==" | "===" => left == right,
        "!=" => left != right,
        "<" => left < right,
        "<=" => left <= right,
        ">" => left > right,
        ">=" => left >= right,
        _ => return Err(format!("`{operator}` does not compare strings")),
    })
}

/// Evaluate `marker` in `environment` (`extra` is empty unless the environment sets it).
///
/// # Errors
/// [`MarkerError`] for a marker that does not parse or names an unknown variable.
///
/// ```
/// use lading::ecosystem::pypi::markers::{evaluate, Environment};
/// let environment = Environment::from([
///     ("python_full_version".to_owned(), "3.11.7".to_owned()),
///     ("sys_platform".to_owned(), "linux".to_owned()),
/// ]);
/// assert!(evaluate("python_full_version < '3.12' and sys_platform != 'win32'", &environment).unwrap());
/// ```
pub fn evaluate(marker: &str, environment: &Environment) -> Result<bool, MarkerError> {
    let error = |reason: String| MarkerError {
        marker: marker.to_owned(),
        reason,
    };
    let tokens = tokenize(marker).map_err(error)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        environment,
    };
    let value = parser.or().map_err(error)?;
    if parser.at != parser.tokens.len() {
        return Err(error("unexpected text after the marker".to_owned()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux_311() -> Environment {
        [
            ("implementation_name", "cpython"),
            ("implementation_version", "3.11.7"),
            ("os_name", "posix"),
            ("platform_machine", "x86_64"),
            ("platform_python_implementation", "CPython"),
            ("platform_system", "Linux"),
            ("python_full_version", "3.11.7"),
            ("python_version", "3.11"),
            ("sys_platform", "linux"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
    }

    #[test]
    fn markers_uv_writes_in_universal_requirements() {
        let environment = linux_311();
        for (marker, expected) in [
            ("python_full_version < '3.12'", true),
            ("python_full_version >= '3.12'", false),
            ("platform_python_implementation != 'PyPy'", true),
            (
                "implementation_name != 'PyPy' and platform_python_implementation != 'PyPy'",
                true,
            ),
            ("sys_platform == 'win32'", false),
            (
                "(sys_platform == 'win32' or sys_platform == 'linux') and python_version >= '3.9'",
                true,
            ),
            (
                "python_version < '3.11' or (python_version == '3.11' and os_name == 'nt')",
                false,
            ),
            ("'linux' in sys_platform", true),
            ("platform_machine not in 'arm64 aarch64'", true),
            ("python_version == '3.11.*'", true),
            ("'3.10' <= python_version", true),
            ("extra == 'Socks'", false),
            ("os.name == \"posix\"", true),
        ] {
            assert_eq!(evaluate(marker, &environment), Ok(expected), "{marker}");
        }
        let mut with_extra = environment;
        with_extra.insert("extra".to_owned(), "socks".to_owned());
        assert_eq!(evaluate("extra == 'Socks'", &with_extra), Ok(true));
    }

    #[test]
    fn bad_markers_are_errors() {
        let environment = linux_311();
        for marker in [
            "python_version <",
            "(python_version < '3'",
            "python_version < '3' or",
            "unknown_thing == 'x'",
            "python_version '3'",
            "python_version == 'é' é",
            "python_version < '3' extra",
            "sys_platform == 'linux",
        ] {
            assert!(evaluate(marker, &environment).is_err(), "{marker}");
        }
    }
}
