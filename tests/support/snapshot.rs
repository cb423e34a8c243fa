//! Snapshots of a command's output with `insta`: the exit code, stdout and stderr in one text,
//! scrubbed of what changes from run to run (temporary directories, ports, lading's version) so
//! the snapshot reads like the output a user sees and stays the same on every machine.
//!
//! `lading_snapshot!(filters, command)` runs the command and compares the rendering with
//! `tests/it/snapshots/<binary>__<module>__<test>.snap`. After an intended change of the
//! output, rewrite the files with `INSTA_UPDATE=always cargo nextest run --test it <module>`
//! (or `cargo insta review`) and commit the diff. Under `CI=true` a mismatch fails and writes
//! nothing.

use std::path::Path;
use std::process::Output;

/// Replacements applied to command output before it is snapshotted.
pub struct Filters {
    /// `(literal, placeholder)`, applied longest literal first.
    literals: Vec<(String, String)>,
}

impl Default for Filters {
    fn default() -> Self {
        Self::new()
    }
}

impl Filters {
    /// The default filters: lading's version becomes `[VERSION]`, any directory made by
    /// `tempfile` becomes `[TEMP]`, and a loopback port becomes `[PORT]`.
    pub fn new() -> Self {
        Self {
            literals: vec![(env!("CARGO_PKG_VERSION").to_owned(), "[VERSION]".to_owned())],
        }
    }

    /// Also replace `path` (and its canonical form) with `placeholder`, e.g. `[HOME]`.
    #[must_use]
    pub fn path(mut self, path: &Path, placeholder: &str) -> Self {
        let mut forms = vec![path.display().to_string()];
        if let Ok(canonical) = fs_err::canonicalize(path) {
            forms.push(canonical.display().to_string());
        }
        for form in forms {
            self.literals.push((form, placeholder.to_owned()));
        }
        self
    }

    /// `text` with every filter applied.
    pub fn scrub(&self, text: &str) -> String {
        let mut literals: Vec<&(String, String)> = self.literals.iter().collect();
        literals.sort_by_key(|(literal, _)| std::cmp::Reverse(literal.len()));
        let mut text = text.to_owned();
        for (literal, placeholder) in literals {
            text = text.replace(literal.as_str(), placeholder);
        }
        let temp = std::env::temp_dir().join(".tmp").display().to_string();
        let text = replace_suffixed(&text, &temp, "[TEMP]", |c| c.is_ascii_alphanumeric());
        let text = replace_suffixed(&text, "127.0.0.1:", "127.0.0.1:[PORT]", |c| {
            c.is_ascii_digit()
        });
        replace_suffixed(&text, "localhost:", "localhost:[PORT]", |c| {
            c.is_ascii_digit()
        })
    }
}

/// Replace each `prefix` followed by one or more characters that match `part` with
/// `placeholder` (a hand-written `prefix[part]+` regex: the `insta` filters feature would pull
/// in `regex` for three patterns).
fn replace_suffixed(text: &str, prefix: &str, placeholder: &str, part: fn(char) -> bool) -> String {
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(prefix) {
        let after = &rest[start + prefix.len()..];
        let end = after.find(|c| !part(c)).unwrap_or(after.len());
        result.push_str(&rest[..start]);
        if end == 0 {
            result.push_str(prefix);
        } else {
            result.push_str(placeholder);
        }
        rest = &after[end..];
    }
    result.push_str(rest);
    result
}

/// The exit code, stdout and stderr of `output`, scrubbed by `filters`.
pub fn render(output: &Output, filters: &Filters) -> String {
    let code = output
        .status
        .code()
        .map_or_else(|| output.status.to_string(), |code| code.to_string());
    format!(
        "success: {}\nexit_code: {code}\n----- stdout -----\n{}\n----- stderr -----\n{}",
        output.status.success(),
        filters.scrub(&String::from_utf8_lossy(&output.stdout)),
        filters.scrub(&String::from_utf8_lossy(&output.stderr)),
    )
}

/// Run a command and snapshot its scrubbed output ([`render`]); evaluates to the
/// [`Output`] for further checks. `lading_snapshot!(filters, &mut command)` names the snapshot
/// after the test; `lading_snapshot!("name", filters, &mut command)` names it.
#[macro_export]
macro_rules! lading_snapshot {
    ($filters:expr, $command:expr) => {{
        let output = $crate::support::run($command);
        insta::assert_snapshot!($crate::support::snapshot::render(&output, &$filters));
        output
    }};
    ($name:expr, $filters:expr, $command:expr) => {{
        let output = $crate::support::run($command);
        insta::assert_snapshot!($name, $crate::support::snapshot::render(&output, &$filters));
        output
    }};
}
