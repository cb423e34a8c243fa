//! Console sign-in: an access key pair or a repository token exchanged for a session cookie,
//! and the CSRF tokens of the console's forms.
//!
//! Sessions are stateless, so every node of a scaled-out server accepts them: the cookie
//! holds who signed in and until when, MACed with HMAC-SHA256. An access-key session is
//! keyed with that principal's own secret access key (rotating the key ends its sessions);
//! a token session carries the repository token itself and is checked on every request as
//! the data planes check it ([`access::token_principal`]: unknown, expired, principal gone),
//! keyed with the server key (derived from the admin's secret, as the control plane's page
//! tokens are). Cookies are `HttpOnly`, `SameSite=Strict`, `Path=/ui`, and `Secure` when the
//! console is reached over https (`--public-url https://…` or `X-Forwarded-Proto: https`).

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use super::super::AppState;
use super::super::access::{self, Permission, Principal};

/// The session cookie.
pub const SESSION_COOKIE: &str = "lading_session";
/// The sign-in form's CSRF cookie (double submit: the form carries the same value).
pub const LOGIN_COOKIE: &str = "lading_login";
/// How long a session lasts (a token session: at most as long as its token).
pub const SESSION_SECONDS: f64 = 12.0 * 3600.0;

/// Who is looking at the console.
#[derive(Debug)]
pub struct Viewer {
    /// The principal, with the permissions policies in force.
    pub principal: Principal,
    /// For a token session: the domain the token was minted for (tokens are per domain).
    pub token_domain: Option<String>,
    /// The CSRF token the forms of this session carry.
    pub csrf: String,
}

impl Viewer {
    /// Whether this viewer may read `domain/repository`: the data planes' own check
    /// ([`Principal::allows`], `codeartifact:ReadFromRepository`), and for a token session
    /// the token's domain, as [`access::authenticate_token`] requires.
    #[must_use]
    pub fn reads(&self, domain: &str, repository: &str) -> bool {
        self.token_domain
            .as_deref()
            .is_none_or(|token_domain| token_domain == domain)
            && self
                .principal
                .allows(domain, Some(repository), Permission::Read)
    }

    /// How the viewer signed in, for the page header.
    #[must_use]
    pub fn how(&self) -> &'static str {
        if self.token_domain.is_some() {
            "repository token"
        } else {
            "access key"
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    /// Principal name (access-key session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
    /// Repository token (token session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
    /// Expiry, epoch seconds.
    e: f64,
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn mac(key: &[u8], message: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(b"lading console v1\0");
    mac.update(message.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The server's own key: derived from the admin principal's secret, which every node of a
/// scaled-out server shares.
fn server_key(state: &AppState) -> [u8; 32] {
    let secret = state
        .principals
        .by_name("admin")
        .map(|admin| admin.secret_access_key.expose().clone())
        .unwrap_or_default();
    sha2::Sha256::new()
        .chain_update(b"lading console key\0")
        .chain_update(secret.as_bytes())
        .finalize()
        .into()
}

fn equal(left: &str, right: &str) -> bool {
    left.len() == right.len() && bool::from(left.as_bytes().ct_eq(right.as_bytes()))
}

/// A random value for a CSRF cookie.
#[must_use]
pub fn random_token() -> String {
    let bytes: [u8; 24] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The session cookie value for `principal`, signed in with its access key pair.
#[must_use]
pub fn for_access_key(state: &AppState, principal: &Principal) -> String {
    let claims = Claims {
        p: Some(principal.name.clone()),
        t: None,
        e: state.clock.now() + SESSION_SECONDS,
    };
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
    let signature = mac(principal.secret_access_key.expose().as_bytes(), &payload);
    format!("k.{payload}.{signature}")
}

/// The session cookie value for a repository token.
#[must_use]
pub fn for_token(state: &AppState, token: &str) -> String {
    let claims = Claims {
        p: None,
        t: Some(token.to_owned()),
        e: state.clock.now() + SESSION_SECONDS,
    };
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
    let signature = mac(&server_key(state), &payload);
    format!("t.{payload}.{signature}")
}

/// The CSRF token of the forms of the session `cookie`.
fn csrf_of(state: &AppState, cookie: &str) -> String {
    mac(&server_key(state), &format!("csrf\0{cookie}"))
}

/// Whether `presented` is the CSRF token of the session `viewer` came from.
#[must_use]
pub fn csrf_matches(viewer: &Viewer, presented: &str) -> bool {
    equal(&viewer.csrf, presented)
}

/// Whether the sign-in form's `presented` token matches its cookie.
#[must_use]
pub fn login_csrf_matches(headers: &HeaderMap, presented: &str) -> bool {
    cookie(headers, LOGIN_COOKIE)
        .is_some_and(|expected| !expected.is_empty() && equal(&expected, presented))
}

/// The value of cookie `name` in the request.
#[must_use]
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Whether the browser reached the console over https.
#[must_use]
pub fn over_https(state: &AppState, headers: &HeaderMap) -> bool {
    state
        .public_url
        .as_ref()
        .is_some_and(|url| url.scheme() == "https")
        || headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Path=/ui`, `Secure` over https;
/// `max_age` 0 removes the cookie.
#[must_use]
pub fn set_cookie(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age: u64,
) -> String {
    let secure = if over_https(state, headers) {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/ui; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// The viewer of a request, from its session cookie; `None` when there is none or it is no
/// longer valid (bad MAC, expired, principal or token gone).
pub async fn viewer(state: &AppState, headers: &HeaderMap) -> Option<Viewer> {
    let value = cookie(headers, SESSION_COOKIE)?;
    let mut parts = value.splitn(3, '.');
    let (kind, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    if claims.e <= state.clock.now() {
        return None;
    }
    let csrf = csrf_of(state, &value);
    match (kind, claims.p, claims.t) {
        ("k", Some(name), None) => {
            let principal = state.principals.by_name(&name)?.clone();
            let expected = mac(principal.secret_access_key.expose().as_bytes(), payload);
            if !equal(&expected, signature) {
                return None;
            }
            let principal = access::with_policies(state, principal).await.ok()?;
            Some(Viewer {
                principal,
                token_domain: None,
                csrf,
            })
        }
        ("t", None, Some(token)) => {
            if !equal(&mac(&server_key(state), payload), signature) {
                return None;
            }
            let (principal, domain) = access::token_principal(state, &token).await.ok()?;
            Some(Viewer {
                principal,
                token_domain: Some(domain),
                csrf,
            })
        }
        _ => None,
    }
}

/// The principal whose access key pair this is, compared in constant time.
#[must_use]
pub fn by_access_key(state: &AppState, access_key_id: &str, secret: &str) -> Option<Principal> {
    let principal = state.principals.by_access_key(access_key_id.trim())?;
    equal(principal.secret_access_key.expose(), secret.trim()).then(|| principal.clone())
}
