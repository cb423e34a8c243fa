//! minijinja templating for names and versions in `lading.yml` (`{{ env.X }}`, `{{ git.short_sha }}`).
//!
//! Undefined variables are errors, not empty strings: a version that silently renders as
//! `""` would publish the wrong thing.

use serde::Serialize;

/// A template that failed to render.
#[derive(Debug, thiserror::Error)]
#[error("failed to render template `{template}`: {message}")]
pub struct TemplateError {
    /// The template text.
    pub template: String,
    /// minijinja's explanation.
    pub message: String,
}

/// Render `template` against `context` with strict undefined handling.
///
/// # Errors
/// [`TemplateError`] for syntax errors and undefined variables.
///
/// ```
/// let context = serde_json::json!({"ci": {"ref_name": "v1.2.3"}});
/// let out = lading::config::template::render("{{ ci.ref_name | replace('v', '') }}", &context).unwrap();
/// assert_eq!(out, "1.2.3");
/// ```
pub fn render<C: Serialize>(template: &str, context: &C) -> Result<String, TemplateError> {
    let mut environment = minijinja::Environment::new();
    environment.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    environment
        .render_str(template, context)
        .map_err(|error| TemplateError {
            template: template.to_owned(),
            message: error.to_string(),
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn undefined_variable_is_an_error() {
        let error =
            super::render("{{ env.MISSING }}", &serde_json::json!({"env": {}})).unwrap_err();
        assert!(
            error.to_string().contains("env.MISSING") || error.to_string().contains("undefined"),
            "{error}"
        );
    }
}
