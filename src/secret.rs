//! Redaction types: [`Secret`] for tokens and keys, [`SafeUrl`] for URLs that may carry them.
//!
//! A secret must never reach a log line, an error message, a process argument or a file
//! without mode 0600. The types make the safe thing the easy thing: `Secret` has no
//! `Display`, its `Debug` prints `REDACTED`, and [`Secret::expose`] is the only way out, so
//! every use of the raw value is greppable.

use std::fmt;

/// A value that must not be printed. `Debug` shows `REDACTED`; there is no `Display`.
///
/// ```
/// use lading::secret::Secret;
/// let token = Secret::new(String::from("s3cr3t"));
/// assert_eq!(format!("{token:?}"), "Secret(REDACTED)");
/// assert_eq!(token.expose(), "s3cr3t");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wrap a value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The raw value. Every call site is a place where the secret leaves its box.
    pub const fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(REDACTED)")
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

/// Query parameters whose values are credentials (presigned URLs, tokens in query strings).
const SENSITIVE_QUERY_KEYS: &[&str] = &[
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "signature",
    "token",
    "access_token",
    "sig",
];

/// A URL whose `Display` and `Debug` mask userinfo passwords and signed query parameters.
///
/// ```
/// use lading::secret::SafeUrl;
/// let url = SafeUrl::parse("https://aws:tok@example.com/simple/?X-Amz-Signature=abc").unwrap();
/// assert_eq!(url.to_string(), "https://aws:****@example.com/simple/?X-Amz-Signature=****");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SafeUrl(url::Url);

impl SafeUrl {
    /// Parse a URL.
    ///
    /// # Errors
    /// When the text is not an absolute URL.
    pub fn parse(text: &str) -> Result<Self, url::ParseError> {
        url::Url::parse(text).map(Self)
    }

    /// The full URL, credentials included: only for handing to an HTTP client.
    #[must_use]
    pub const fn expose(&self) -> &url::Url {
        &self.0
    }

    /// The URL with credentials masked, as a string.
    #[must_use]
    pub fn redacted(&self) -> String {
        let mut url = self.0.clone();
        if url.password().is_some() {
            // Cannot fail for URLs that already have a password (they have a host).
            let _ = url.set_password(Some("****"));
        } else if !url.username().is_empty() && url.username().len() > 20 {
            // A long bare username is usually a token (`https://<token>@host`).
            let _ = url.set_username("****");
        }
        if url.query().is_some() {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(key, value)| {
                    let sensitive =
                        SENSITIVE_QUERY_KEYS.contains(&key.to_ascii_lowercase().as_str());
                    (
                        key.into_owned(),
                        if sensitive {
                            "****".to_owned()
                        } else {
                            value.into_owned()
                        },
                    )
                })
                .collect();
            let mut serializer = url.query_pairs_mut();
            serializer.clear();
            for (key, value) in &pairs {
                serializer.append_pair(key, value);
            }
        }
        // `****` is percent-encoded by the query serializer; undo that for readability.
        url.to_string().replace("%2A%2A%2A%2A", "****")
    }
}

impl From<url::Url> for SafeUrl {
    fn from(url: url::Url) -> Self {
        Self(url)
    }
}

impl fmt::Display for SafeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for SafeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SafeUrl({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let secret = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{secret:?}"), "Secret(REDACTED)");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(Secret(REDACTED))");
    }

    #[test]
    fn safe_url_masks_password_and_signed_query() {
        let url =
            SafeUrl::parse("http://aws:tok3n@127.0.0.1:8080/pypi/r/simple/?a=1&token=zzz").unwrap();
        let shown = url.to_string();
        assert!(!shown.contains("tok3n"), "{shown}");
        assert!(!shown.contains("zzz"), "{shown}");
        assert_eq!(
            shown,
            "http://aws:****@127.0.0.1:8080/pypi/r/simple/?a=1&token=****"
        );
        assert_eq!(url.expose().password(), Some("tok3n"));
    }

    #[test]
    fn safe_url_masks_long_bare_username() {
        let url = SafeUrl::parse("https://ghp_abcdefghijklmnopqrstuvwxyz@github.com/x").unwrap();
        assert_eq!(url.to_string(), "https://****@github.com/x");
    }

    #[test]
    fn safe_url_keeps_plain_urls() {
        let url = SafeUrl::parse("https://registry.npmjs.org/@acme%2ftool").unwrap();
        assert_eq!(url.to_string(), "https://registry.npmjs.org/@acme%2ftool");
    }
}
