//! `lading exec -- CMD`: run a command with the package managers pointed at the repository.
//!
//! For a plain registry it is `lading login` (ephemeral files), the command, `lading logout`.
//!
//! For CodeArtifact the command may outlive the token (12 h at most, often less with a role
//! session), so the tools are pointed instead at a loopback proxy started here: it forwards
//! `http://127.0.0.1:PORT/{format}/...` to the repository's endpoint for that format,
//! replacing whatever credentials the client sent with a token it mints itself and renews
//! before expiry (and at once when the repository answers 401/403). The config files the
//! tools read hold only a placeholder, so no token is on disk. Absolute URLs in text
//! responses (npm packuments' tarball URLs, simple indexes) are rewritten to the proxy so
//! every later request also goes through it.
//!
//! Trust model: any local process can connect to a loopback port, so the proxy adds the
//! token only to requests that prove they come from the tools this run configured. The
//! placeholder is `lading-exec-proxy-` and 256 random bits drawn for this run; it is in the
//! tools' config files (0600, in a private temporary directory) and the command's
//! environment, and nowhere else. A request must carry it (Bearer, Basic password, a raw
//! `Authorization` as cargo sends it, or `X-NuGet-ApiKey`), compared in constant time, or
//! it gets 401 with a Basic challenge (so Maven and NuGet, which send credentials only when
//! challenged, still work) and nothing is forwarded. The request's `Host` must be the
//! proxy's own address and an absolute request target is refused (403), which keeps a web
//! page's DNS-rebinding or proxy-style requests out; the proxy forwards only to the
//! configured repository's endpoints, checks that the URL it built is on their origin, and
//! follows redirects with [`crate::http::send_following`], which drops the token as soon as
//! a hop leaves that origin.
//!
//! The command's exit code is passed through (uv `ExitStatus::External`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use tokio::sync::Mutex;

use crate::cli::ExecArgs;
use crate::diagnostics::ChildExit;
use crate::env_vars::EnvVars;
use crate::format::{Format, Tool};
use crate::printer::Printer;
use crate::repository::Repository;
use crate::repository::codeartifact::CodeArtifact;
use crate::secret::Secret;

/// The start of the placeholder the tools' config files hold (a per-run secret follows):
/// the proxy checks it and replaces it with the token.
pub const PLACEHOLDER_PREFIX: &str = "lading-exec-proxy-";

/// A fresh placeholder: [`PLACEHOLDER_PREFIX`] and 256 random bits in hex.
fn new_placeholder() -> Secret<String> {
    use rand::Rng as _;
    let bytes: [u8; 32] = rand::rng().random();
    Secret::new(format!("{PLACEHOLDER_PREFIX}{}", hex::encode(bytes)))
}

/// Renew the token when it has less than this long to live.
const RENEW_MARGIN_SECONDS: f64 = 300.0;

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// The proxy's state: where each format goes and the current token.
struct Proxy {
    client: CodeArtifact,
    duration_seconds: Option<i64>,
    /// Format → the repository's endpoint for it (ends in `/`).
    endpoints: BTreeMap<Format, String>,
    /// `http://127.0.0.1:PORT`.
    base: String,
    /// `127.0.0.1:PORT`: the only `Host` the proxy answers.
    authority: String,
    /// What the tools were given instead of the token.
    placeholder: Secret<String>,
    token: Mutex<Option<(Secret<String>, f64)>>,
    http: reqwest::Client,
    mints: std::sync::atomic::AtomicUsize,
}

impl Proxy {
    async fn token(&self, force: bool) -> Result<Secret<String>, String> {
        let mut current = self.token.lock().await;
        if !force
            && let Some((token, expires)) = current.as_ref()
            && *expires - RENEW_MARGIN_SECONDS > now()
        {
            return Ok(token.clone());
        }
        let (token, expires) = self
            .client
            .authorization_token(self.duration_seconds)
            .await
            .map_err(|error| format!("failed to mint a token: {error}"))?;
        self.mints
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(expires, "lading exec: minted a token");
        *current = Some((token.clone(), expires.unwrap_or(f64::MAX)));
        Ok(token)
    }

    async fn forward(self: Arc<Self>, request: Request) -> Response {
        match self.try_forward(request).await {
            Ok(response) => response,
            Err(message) => {
                tracing::warn!("lading exec proxy: {message}");
                (StatusCode::BAD_GATEWAY, message).into_response()
            }
        }
    }

    /// The refusal, unless the request is for this proxy (its own `Host`, an origin-form
    /// target) and from a configured tool (it carries the placeholder).
    fn refusal(&self, parts: &axum::http::request::Parts) -> Option<Response> {
        let own = |authority: &str| {
            let port = self.authority.rsplit_once(':').map_or("", |(_, port)| port);
            authority.eq_ignore_ascii_case(&self.authority)
                || authority.eq_ignore_ascii_case(&format!("localhost:{port}"))
        };
        let refuse = |status: StatusCode, message: String| {
            tracing::warn!("lading exec proxy: {message}");
            Some((status, format!("{message}\n")).into_response())
        };
        if parts.method == axum::http::Method::CONNECT
            || parts.uri.scheme().is_some()
            || parts
                .uri
                .authority()
                .is_some_and(|authority| !own(authority.as_str()))
        {
            return refuse(
                StatusCode::FORBIDDEN,
                "refused: the lading exec proxy forwards only to the configured repository, not to absolute URLs".to_owned(),
            );
        }
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if !own(host) {
            return refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "refused: `Host: {host}` is not this proxy ({})",
                    self.authority
                ),
            );
        }
        if presented_secrets(&parts.headers)
            .iter()
            .any(|candidate| constant_time_eq(candidate, self.placeholder.expose()))
        {
            return None;
        }
        tracing::warn!(
            "lading exec proxy: refused {} {}: no or wrong proxy credential",
            parts.method,
            parts.uri.path()
        );
        let mut response = (
            StatusCode::UNAUTHORIZED,
            "the lading exec proxy needs the credential `lading exec` put in the tools' config\n",
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"lading exec\""),
        );
        Some(response)
    }

    async fn try_forward(&self, request: Request) -> Result<Response, String> {
        let (parts, body) = request.into_parts();
        if let Some(refusal) = self.refusal(&parts) {
            return Ok(refusal);
        }
        let path = parts.uri.path().trim_start_matches('/');
        let (format, rest) = path.split_once('/').unwrap_or((path, ""));
        let Some((format, endpoint)) = format
            .parse::<Format>()
            .ok()
            .and_then(|format| Some((format, self.endpoints.get(&format)?)))
        else {
            return Ok((StatusCode::NOT_FOUND, format!("no `{format}` endpoint")).into_response());
        };
        let mut url = format!("{endpoint}{rest}");
        if let Some(query) = parts.uri.query() {
            url.push('?');
            url.push_str(query);
        }
        // Only the repository's origin gets the token, whatever the path held.
        let on_origin = url::Url::parse(&url)
            .ok()
            .zip(url::Url::parse(endpoint).ok())
            .is_some_and(|(url, endpoint)| url.origin() == endpoint.origin());
        let Ok(url) = url::Url::parse(&url) else {
            return Ok((StatusCode::BAD_REQUEST, "invalid path\n").into_response());
        };
        if !on_origin {
            return Ok((
                StatusCode::FORBIDDEN,
                "refused: the path leaves the repository's origin\n",
            )
                .into_response());
        }
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|error| format!("failed to read the request body: {error}"))?;
        let mut response = None;
        for attempt in 0..2 {
            let token = self.token(attempt > 0).await?;
            // As the format's own clients send it, and as `lading restore` does.
            let authorization = format.auth_scheme().header("aws", &token);
            let mut headers = parts.headers.clone();
            for name in [
                header::HOST,
                header::AUTHORIZATION,
                header::PROXY_AUTHORIZATION,
                header::ACCEPT_ENCODING,
                header::COOKIE,
            ] {
                headers.remove(name);
            }
            // NuGet sends the key in its own header.
            headers.remove("x-nuget-apikey");
            let mut authorization =
                HeaderValue::from_str(authorization.expose()).map_err(|error| error.to_string())?;
            authorization.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, authorization);
            let sent =
                crate::http::send_following(&self.http, parts.method.clone(), &url, |request| {
                    request.headers(headers.clone()).body(body.clone())
                })
                .await
                .map_err(|error| {
                    format!(
                        "{} {}: {error}",
                        parts.method,
                        crate::secret::SafeUrl::from(url.clone()).redacted()
                    )
                })?;
            let refused = matches!(
                sent.status(),
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            );
            response = Some(sent);
            if !refused {
                break;
            }
        }
        let Some(sent) = response else {
            return Err("no response".to_owned());
        };
        let status = sent.status();
        let mut headers = sent.headers().clone();
        let textual = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|kind| {
                kind.contains("json")
                    || kind.contains("html")
                    || kind.contains("xml")
                    || kind.starts_with("text/")
            });
        let bytes = sent
            .bytes()
            .await
            .map_err(|error| format!("failed to read the response: {error}"))?;
        let body = if textual {
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            for (format, endpoint) in &self.endpoints {
                text = text.replace(endpoint.as_str(), &format!("{}/{format}/", self.base));
            }
            headers.remove(header::CONTENT_LENGTH);
            Body::from(text)
        } else {
            Body::from(bytes)
        };
        headers.remove(header::TRANSFER_ENCODING);
        headers.remove(header::CONNECTION);
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

/// Every value a request offers as the proxy credential: a Bearer token, a Basic password,
/// a raw `Authorization` (cargo), `X-NuGet-ApiKey`.
fn presented_secrets(headers: &axum::http::HeaderMap) -> Vec<String> {
    let mut found = Vec::new();
    for value in headers.get_all(header::AUTHORIZATION) {
        let Ok(text) = value.to_str() else { continue };
        let text = text.trim();
        match text.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => {
                found.push(rest.trim().to_owned());
            }
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => {
                if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest.trim())
                    && let Ok(pair) = String::from_utf8(decoded)
                    && let Some((_, password)) = pair.split_once(':')
                {
                    found.push(password.to_owned());
                }
            }
            _ => found.push(text.to_owned()),
        }
    }
    for value in headers.get_all("x-nuget-apikey") {
        if let Ok(text) = value.to_str() {
            found.push(text.trim().to_owned());
        }
    }
    found
}

/// Compare without leaking, through timing, how much of the secret a guess got right.
fn constant_time_eq(candidate: &str, secret: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    // Lengths differ only for a wrong guess, and the length of the secret is public.
    candidate.len() == secret.len() && bool::from(candidate.as_bytes().ct_eq(secret.as_bytes()))
}

async fn run_child(
    program: &OsString,
    args: &[OsString],
    env: &[(String, String)],
) -> anyhow::Result<std::process::ExitStatus> {
    tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .status()
        .await
        .with_context(|| format!("failed to start `{}`", program.to_string_lossy()))
}

/// The lading binary children run.
fn lading_binary() -> anyhow::Result<PathBuf> {
    match EnvVars::get(EnvVars::LADING_RUN_BINARY) {
        Some(path) => Ok(PathBuf::from(path)),
        None => std::env::current_exe().context("failed to find the lading executable"),
    }
}

/// Run `lading login` as a child with `--print-env sh` and return its exports.
async fn login(
    binary: &PathBuf,
    args: Vec<OsString>,
    env: &[(String, String)],
    printer: Printer,
) -> anyhow::Result<Vec<(String, String)>> {
    let output = tokio::process::Command::new(binary)
        .args(args)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await
        .context("failed to start `lading login`")?;
    let text = String::from_utf8_lossy(&output.stdout);
    for line in text.lines().filter(|line| !line.starts_with("export ")) {
        printer.data(line);
    }
    if !output.status.success() {
        return Err(ChildExit {
            message: format!("`lading login` failed ({})", output.status),
            code: output
                .status
                .code()
                .and_then(|code| u8::try_from(code).ok())
                .unwrap_or(1),
        }
        .into());
    }
    Ok(super::run::parse_sh_exports(&text))
}

/// Run `lading exec`.
///
/// # Errors
/// Repository problems, a failed login, or the command's own non-zero exit ([`ChildExit`]).
pub async fn run(args: ExecArgs, printer: Printer) -> anyhow::Result<()> {
    let Some((program, program_args)) = args.command.split_first() else {
        anyhow::bail!("no command given after `--`");
    };
    let repository = Repository::resolve(&args.repository)?;
    let binary = lading_binary()?;
    let work = tempfile::Builder::new()
        .prefix("lading-exec-")
        .tempdir()
        .context("failed to create a private directory for the tools' config")?;
    let state_file = work.path().join("state.json");
    let mut tools = args.tools.clone();
    tools.sort();
    tools.dedup();
    let common = |tools: &[Tool]| {
        let mut login: Vec<OsString> = vec!["login".into()];
        for tool in tools {
            login.extend(["--tool".into(), tool.name().into()]);
        }
        login.extend([
            "--target".into(),
            "ephemeral".into(),
            "--dir".into(),
            work.path().as_os_str().to_owned(),
            "--state-file".into(),
            state_file.clone().into_os_string(),
            "--print-env".into(),
            "sh".into(),
        ]);
        login
    };
    let mut env: Vec<(String, String)> = Vec::new();
    let mut server = None;
    let mut proxy_state = None;
    match &repository {
        Repository::CodeArtifact {
            target,
            duration_seconds,
        } => {
            let client = CodeArtifact::connect(target.clone()).await;
            let mut endpoints = BTreeMap::new();
            for tool in &tools {
                let format = tool.format();
                if let std::collections::btree_map::Entry::Vacant(slot) = endpoints.entry(format) {
                    let endpoint = client
                        .repository_endpoint(format)
                        .await
                        .with_context(|| format!("failed to get the {format} endpoint"))?;
                    let mut text = endpoint.expose().as_str().to_owned();
                    if !text.ends_with('/') {
                        text.push('/');
                    }
                    slot.insert(text);
                }
            }
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .context("failed to listen on loopback for the credential proxy")?;
            let authority = listener.local_addr()?.to_string();
            let base = format!("http://{authority}");
            let placeholder = new_placeholder();
            let http = crate::http::client_builder()
                .connect_timeout(std::time::Duration::from_secs(30))
                .build()
                .context("failed to start the HTTP client")?;
            let proxy = Arc::new(Proxy {
                client,
                duration_seconds: duration_seconds
                    .map(|seconds| i64::try_from(seconds).unwrap_or(43_200)),
                endpoints: endpoints.clone(),
                base: base.clone(),
                authority,
                placeholder: placeholder.clone(),
                token: Mutex::new(None),
                http,
                mints: std::sync::atomic::AtomicUsize::new(0),
            });
            // Fail now, not in the middle of the build, when no token can be minted.
            proxy
                .token(true)
                .await
                .map_err(|message| anyhow::anyhow!(message))?;
            let router = axum::Router::new()
                .fallback(
                    |State(proxy): State<Arc<Proxy>>, request: Request| async move {
                        proxy.forward(request).await
                    },
                )
                .with_state(Arc::clone(&proxy));
            server = Some(tokio::spawn(
                async move { axum::serve(listener, router).await },
            ));
            printer.status(&format!(
                "lading exec: credential proxy at {base} (tokens minted as needed, none on disk)"
            ));
            env.push((EnvVars::LADING_REPOSITORY_URL.to_owned(), base.clone()));
            env.push((
                "LADING_EXEC_PLACEHOLDER".to_owned(),
                placeholder.expose().clone(),
            ));
            for format in endpoints.keys() {
                let mine: Vec<Tool> = tools
                    .iter()
                    .copied()
                    .filter(|tool| tool.format() == *format)
                    .collect();
                let mut login_args = common(&mine);
                login_args.extend([
                    "--registry-url".into(),
                    format!("{base}/{format}/").into(),
                    "--token-env".into(),
                    "LADING_EXEC_PLACEHOLDER".into(),
                ]);
                let exports = login(&binary, login_args, &env, printer).await?;
                env.retain(|(name, _)| exports.iter().all(|(other, _)| other != name));
                env.extend(exports);
            }
            proxy_state = Some(proxy);
        }
        Repository::Url { .. } => {
            let mut login_args = common(&tools);
            login_args.extend(super::run::forwarded_flags(
                &args.repository,
                &args.repository.config,
            ));
            env.extend(login(&binary, login_args, &env, printer).await?);
        }
    }
    let status = run_child(
        &OsString::from(program),
        &program_args.iter().map(OsString::from).collect::<Vec<_>>(),
        &env,
    )
    .await;
    let logout = tokio::process::Command::new(&binary)
        .args(["logout", "--state-file"])
        .arg(&state_file)
        .stdout(Stdio::null())
        .status()
        .await;
    if let Some(server) = server {
        server.abort();
    }
    if let Some(proxy) = proxy_state {
        tracing::debug!(
            mints = proxy.mints.load(std::sync::atomic::Ordering::Relaxed),
            "lading exec: tokens minted"
        );
    }
    if !logout.is_ok_and(|status| status.success()) {
        printer.warn("`lading logout` failed; the tools' config is in a temporary directory that is removed now");
    }
    let status = status?;
    if status.success() {
        return Ok(());
    }
    Err(ChildExit {
        message: format!("`{program}` failed ({status})"),
        code: status
            .code()
            .and_then(|code| u8::try_from(code).ok())
            .filter(|code| *code != 0)
            .unwrap_or(1),
    }
    .into())
}
