//! AWS Signature Version 4 verification for the control plane.
//!
//! The canonical request is rebuilt from what arrived: method, path (URI-encoded once more,
//! as non-S3 services do), query parameters decoded and re-encoded with the RFC 3986
//! unreserved set and sorted, the signed headers (lowercased, values trimmed and
//! whitespace-collapsed), and the payload hash (`x-amz-content-sha256` when sent, else the
//! SHA-256 of the body). Refusals use the codes AWS uses.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// Everything but RFC 3986 unreserved characters.
const QUERY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// As above but keeping `/` (for paths).
const PATH_ENCODE: &AsciiSet = &QUERY_ENCODE.remove(b'/');

/// Largest accepted difference between the request's `X-Amz-Date` and the server clock.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 15 * 60;

/// The parsed `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Access key id.
    pub access_key_id: String,
    /// `yyyymmdd` of the credential scope.
    pub date: String,
    /// Region of the credential scope.
    pub region: String,
    /// Service of the credential scope.
    pub service: String,
    /// Lowercase header names, in the order given.
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header.
    #[error("missing authentication token")]
    Missing,
    /// The header or `X-Amz-Date` is malformed.
    #[error("{0}")]
    Malformed(String),
    /// The signature does not match.
    #[error("the request signature we calculated does not match the signature you provided")]
    Mismatch,
    /// The signed `x-amz-content-sha256` is not the SHA-256 of the body.
    #[error("the provided 'x-amz-content-sha256' header does not match what was computed")]
    ContentSha256Mismatch,
    /// `X-Amz-Date` is too far from the server's clock.
    #[error("Signature expired: {request_time} is now earlier than {earliest} ({now} - 15 min.)")]
    Expired {
        /// The request's time.
        request_time: String,
        /// Earliest acceptable time.
        earliest: String,
        /// Server time.
        now: String,
    },
    /// `X-Amz-Date` is too far in the future.
    #[error(
        "Signature not yet current: {request_time} is still later than {latest} ({now} + 15 min.)"
    )]
    NotYetCurrent {
        /// The request's time.
        request_time: String,
        /// Latest acceptable time.
        latest: String,
        /// Server time.
        now: String,
    },
}

/// Parse the `Authorization` header value.
///
/// # Errors
/// [`SigV4Error::Malformed`] naming what is missing.
pub fn parse_authorization(value: &str) -> Result<Authorization, SigV4Error> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256").ok_or_else(|| {
        SigV4Error::Malformed(
            "Authorization header requires the AWS4-HMAC-SHA256 algorithm".to_owned(),
        )
    })?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(value) = part.strip_prefix("Credential=") {
            credential = Some(value);
        } else if let Some(value) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(value);
        } else if let Some(value) = part.strip_prefix("Signature=") {
            signature = Some(value);
        }
    }
    let missing = |name: &str| {
        SigV4Error::Malformed(format!("Authorization header requires '{name}' parameter"))
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = scope.as_slice() else {
        return Err(SigV4Error::Malformed(format!(
            "Credential should be scoped to a valid region, got '{credential}'"
        )));
    };
    if *terminator != "aws4_request" {
        return Err(SigV4Error::Malformed(
            "Credential should be scoped with a valid terminator: 'aws4_request'".to_owned(),
        ));
    }
    Ok(Authorization {
        access_key_id: (*access_key_id).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        signed_headers: signed_headers
            .split(';')
            .map(str::to_ascii_lowercase)
            .collect(),
        signature: signature.to_ascii_lowercase(),
    })
}

/// The parts of a request that SigV4 covers.
#[derive(Debug)]
pub struct RequestParts<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Raw (still percent-encoded) path.
    pub path: &'a str,
    /// Raw query string, without `?`.
    pub query: &'a str,
    /// Headers as received.
    pub headers: &'a HeaderMap,
    /// Hex SHA-256 of the body, computed by the server as the body streamed in; used
    /// when the request sends no `x-amz-content-sha256`.
    pub payload_sha256: &'a str,
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| {
                percent_decode_str(&text.replace('+', "%20"))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (
                utf8_percent_encode(&decode(key), QUERY_ENCODE).to_string(),
                utf8_percent_encode(&decode(value), QUERY_ENCODE).to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical request string.
#[must_use]
pub fn canonical_request(parts: &RequestParts<'_>, signed_headers: &[String]) -> String {
    let path = if parts.path.is_empty() {
        "/"
    } else {
        parts.path
    };
    let canonical_uri = utf8_percent_encode(path, PATH_ENCODE).to_string();
    let mut canonical_headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = parts
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|value| canonical_header_value(&String::from_utf8_lossy(value.as_bytes())))
            .collect();
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }
    let payload_hash = parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|value| value.to_str().ok())
        .map_or_else(|| parts.payload_sha256.to_owned(), ToOwned::to_owned);
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        parts.method,
        canonical_uri,
        canonical_query(parts.query),
        canonical_headers,
        signed_headers.join(";"),
        payload_hash
    )
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The expected signature for a request.
#[must_use]
pub fn signature(
    parts: &RequestParts<'_>,
    authorization: &Authorization,
    amz_date: &str,
    secret_access_key: &str,
) -> String {
    let canonical = canonical_request(parts, &authorization.signed_headers);
    let scope = format!(
        "{}/{}/{}/aws4_request",
        authorization.date, authorization.region, authorization.service
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = hmac(
        format!("AWS4{secret_access_key}").as_bytes(),
        authorization.date.as_bytes(),
    );
    let key = hmac(&key, authorization.region.as_bytes());
    let key = hmac(&key, authorization.service.as_bytes());
    let key = hmac(&key, b"aws4_request");
    hex::encode(hmac(&key, string_to_sign.as_bytes()))
}

/// Parse `yyyymmddThhmmssZ` into epoch seconds.
///
/// # Errors
/// [`SigV4Error::Malformed`].
pub fn parse_amz_date(value: &str) -> Result<i64, SigV4Error> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(value, format)
        .map(|moment| moment.assume_utc().unix_timestamp())
        .map_err(|_| {
            SigV4Error::Malformed(format!(
                "X-Amz-Date '{value}' is not in yyyyMMddTHHmmssZ format"
            ))
        })
}

/// Format epoch seconds as `yyyymmddThhmmssZ`.
#[must_use]
pub fn format_amz_date(epoch: i64) -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|moment| moment.format(format).ok())
        .unwrap_or_default()
}

/// Verify a request's signature and freshness against `secret_access_key` at time `now`.
///
/// # Errors
/// [`SigV4Error`] saying why it was refused.
pub fn verify(
    parts: &RequestParts<'_>,
    authorization: &Authorization,
    secret_access_key: &str,
    now: i64,
) -> Result<(), SigV4Error> {
    let amz_date = parts
        .headers
        .get("x-amz-date")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| SigV4Error::Malformed("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header".to_owned()))?;
    let request_time = parse_amz_date(amz_date)?;
    if !amz_date.starts_with(&authorization.date) {
        return Err(SigV4Error::Malformed(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
            authorization.date,
            &amz_date[..8.min(amz_date.len())]
        )));
    }
    if request_time < now - MAX_CLOCK_SKEW_SECONDS {
        return Err(SigV4Error::Expired {
            request_time: amz_date.to_owned(),
            earliest: format_amz_date(now - MAX_CLOCK_SKEW_SECONDS),
            now: format_amz_date(now),
        });
    }
    if request_time > now + MAX_CLOCK_SKEW_SECONDS {
        return Err(SigV4Error::NotYetCurrent {
            request_time: amz_date.to_owned(),
            latest: format_amz_date(now + MAX_CLOCK_SKEW_SECONDS),
            now: format_amz_date(now),
        });
    }
    if !authorization
        .signed_headers
        .iter()
        .any(|name| name == "host")
    {
        return Err(SigV4Error::Malformed(
            "'Host' must be a signed header".to_owned(),
        ));
    }
    let expected = signature(parts, authorization, amz_date, secret_access_key);
    if constant_time_eq(expected.as_bytes(), authorization.signature.as_bytes()) {
        Ok(())
    } else {
        Err(SigV4Error::Mismatch)
    }
}

/// Check a signed `x-amz-content-sha256` against the body that arrived. The canonical request
/// takes the payload hash from that header when it is sent, so without this check a captured
/// signed request could be replayed with any other body. `UNSIGNED-PAYLOAD` and the
/// `STREAMING-*` modes are refused: AWS allows them only on S3 and on operations whose body
/// is checked by the operation itself (`unsigned_body_allowed`).
///
/// # Errors
/// [`SigV4Error::ContentSha256Mismatch`].
pub fn verify_payload_hash(
    headers: &HeaderMap,
    body: &[u8],
    unsigned_body_allowed: bool,
) -> Result<(), SigV4Error> {
    let Some(claimed) = headers.get("x-amz-content-sha256") else {
        return Ok(());
    };
    if unsigned_body_allowed {
        return Ok(());
    }
    let claimed = claimed.to_str().unwrap_or_default().trim();
    let actual = hex::encode(Sha256::digest(body));
    if claimed.eq_ignore_ascii_case(&actual) {
        Ok(())
    } else {
        Err(SigV4Error::ContentSha256Mismatch)
    }
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// The `get-vanilla-query-order-key-case` style vector from the AWS SigV4 test suite.
    #[test]
    fn aws_test_suite_get_vanilla() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        let parts = RequestParts {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            payload_sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        };
        let authorization = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        )
        .unwrap();
        let now = parse_amz_date("20150830T123600Z").unwrap();
        verify(
            &parts,
            &authorization,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            now,
        )
        .unwrap();
        assert_eq!(
            verify(&parts, &authorization, "wrong", now),
            Err(SigV4Error::Mismatch)
        );
        assert!(matches!(
            verify(
                &parts,
                &authorization,
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                now + 3600
            ),
            Err(SigV4Error::Expired { .. })
        ));
    }

    #[test]
    fn a_signed_payload_hash_must_be_the_bodys() {
        let mut headers = HeaderMap::new();
        assert_eq!(verify_payload_hash(&headers, b"anything", false), Ok(()));
        headers.insert(
            "x-amz-content-sha256",
            HeaderValue::from_str(&hex::encode(Sha256::digest(b"{}"))).unwrap(),
        );
        assert_eq!(verify_payload_hash(&headers, b"{}", false), Ok(()));
        assert_eq!(
            verify_payload_hash(&headers, b"{\"other\":1}", false),
            Err(SigV4Error::ContentSha256Mismatch)
        );
        headers.insert(
            "x-amz-content-sha256",
            HeaderValue::from_static("UNSIGNED-PAYLOAD"),
        );
        assert_eq!(
            verify_payload_hash(&headers, b"{}", false),
            Err(SigV4Error::ContentSha256Mismatch)
        );
        assert_eq!(verify_payload_hash(&headers, b"{}", true), Ok(()));
    }

    #[test]
    fn canonical_query_sorts_and_reencodes() {
        assert_eq!(
            canonical_query("b=2&a=my%20file.tgz&c"),
            "a=my%20file.tgz&b=2&c="
        );
        assert_eq!(canonical_query("asset=a+b"), "asset=a%20b");
    }

    #[test]
    fn malformed_headers_are_named() {
        assert!(matches!(
            parse_authorization("Basic abc"),
            Err(SigV4Error::Malformed(_))
        ));
        assert!(matches!(
            parse_authorization("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request"),
            Err(SigV4Error::Malformed(_))
        ));
    }
}
