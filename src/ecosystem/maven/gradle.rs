//! Gradle: an init script (Groovy DSL) that adds the repository to every project's
//! `repositories` and to `pluginManagement`, with Basic credentials whose password comes
//! from an environment variable, falling back to a 0600 token file beside it. The script
//! itself holds no secret, so it can be world-readable and passed with
//! `gradle --init-script`, or dropped into `~/.gradle/init.d/` where Gradle applies it
//! on its own.
//!
//! The script works from Gradle 4.x (Debian's 4.4.1, run by the buildspec harness) to 8.x:
//! `beforeSettings` (Gradle 6+) lets settings plugins resolve from the repository too, and
//! older Gradle falls back to `settingsEvaluated`, which still comes before any project's
//! `plugins {}` block. A plain `http://` URL (the embedded repository on loopback) also sets
//! `allowInsecureProtocol` where Gradle has it (6.2+; from 7.0 Gradle refuses such a
//! repository without it).

/// What the init script configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradleLogin {
    /// Repository name (`codeartifact`).
    pub name: String,
    /// Maven repository URL.
    pub url: String,
    /// Basic-auth user name.
    pub username: String,
    /// Environment variable holding the token.
    pub token_env: String,
    /// A 0600 file holding the token, read when the variable is unset.
    pub token_file: Option<String>,
}

/// A Groovy single-quoted string literal.
fn groovy(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The init script text (deterministic: the same login gives the same bytes).
#[must_use]
pub fn init_script(login: &GradleLogin) -> String {
    let token = match &login.token_file {
        Some(file) => format!(
            "System.getenv({env}) ?: new File({file}).getText('UTF-8').trim()",
            env = groovy(&login.token_env),
            file = groovy(file)
        ),
        None => format!("System.getenv({})", groovy(&login.token_env)),
    };
    let insecure = if login.url.starts_with("http://") {
        "
        if (delegate.hasProperty('allowInsecureProtocol')) {
            allowInsecureProtocol = true
        }"
    } else {
        ""
    };
    format!(
        r"// {marker}
// Adds the {name} repository; the password is read when Gradle runs, never stored here.
def ladingRepository = {{ handler ->
    handler.maven {{
        name = {name_literal}
        url = {url}{insecure}
        credentials {{
            username = {username}
            password = {token}
        }}
    }}
}}
def ladingPluginRepository = {{ settings ->
    if (settings.hasProperty('pluginManagement')) {{
        ladingRepository(settings.pluginManagement.repositories)
    }}
}}
try {{
    beforeSettings {{ settings -> ladingPluginRepository(settings) }}
}} catch (MissingMethodException ignored) {{
    settingsEvaluated {{ settings -> ladingPluginRepository(settings) }}
}}
allprojects {{
    ladingRepository(repositories)
}}
",
        marker = crate::ecosystem::edit::MARKER,
        name = login.name.replace(['\n', '\r'], " "),
        name_literal = groovy(&login.name),
        url = groovy(&login.url),
        username = groovy(&login.username),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_reads_the_token_from_the_environment_and_quotes_values() {
        let script = init_script(&GradleLogin {
            name: "codeartifact".to_owned(),
            url: "https://h/maven/it's/".to_owned(),
            username: "aws".to_owned(),
            token_env: "CODEARTIFACT_AUTH_TOKEN".to_owned(),
            token_file: Some("/job/gradle-token".to_owned()),
        });
        assert!(
            script.contains("url = 'https://h/maven/it\\'s/'"),
            "{script}"
        );
        assert!(
            script.contains("password = System.getenv('CODEARTIFACT_AUTH_TOKEN') ?: new File('/job/gradle-token').getText('UTF-8').trim()"),
            "{script}"
        );
        assert!(script.contains("beforeSettings"));
        assert!(script.contains("settingsEvaluated"));
        assert!(!script.contains("allowInsecureProtocol"), "{script}");
    }

    #[test]
    fn plain_http_repositories_are_allowed_where_gradle_asks() {
        let script = init_script(&GradleLogin {
            name: "lading".to_owned(),
            url: "http://127.0.0.1:8080/d/local/maven/main/".to_owned(),
            username: "aws".to_owned(),
            token_env: "CODEARTIFACT_AUTH_TOKEN".to_owned(),
            token_file: None,
        });
        assert!(script.contains("allowInsecureProtocol = true"), "{script}");
    }
}
