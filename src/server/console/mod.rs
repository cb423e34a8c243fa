//! The web console of `lading serve`: server-rendered HTML at `/ui/` (`GET /` without an AWS
//! signature redirects there) for browsing domains, repositories and packages.
//!
//! ```text
//! /ui/                                    dashboard: storage, upstream hit rate, recent publishes, repositories
//! /ui/login  /ui/logout                   sign-in (access key pair or repository token) and sign-out
//! /ui/search?q=&match=&format=&namespace=&origin=&page=
//!                                         packages of every repository the viewer may read
//! /ui/r/{domain}/{repository}/            a repository: formats, upstreams, connections, counts, commands
//! /ui/r/{domain}/{repository}/packages?…  its packages, searched and paginated
//! /ui/r/{domain}/{repository}/package?format=&namespace=&name=&version=
//!                                         a package: versions, readme, dependencies, assets, origin, provenance
//! /ui/r/{domain}/{repository}/download?…&asset=
//!                                         an asset's bytes
//! /ui/console.css                         the one stylesheet
//! ```
//!
//! Everything is embedded in the binary (templates, CSS); no page uses JavaScript, so the
//! Content-Security-Policy allows none (`default-src 'none'`). Templates autoescape (minijinja,
//! `.html` names), so package metadata shows as text; readmes go through [`markdown`], which
//! turns raw HTML into text and drops unsafe links. Every read is decided by
//! [`session::Viewer::reads`], i.e. [`super::access::Principal::allows`] with
//! `codeartifact:ReadFromRepository`, the data planes' own check: a repository the viewer
//! may not read answers 404 exactly as one that does not exist, and is left out of every
//! list, count and search. Reading needs no form; the forms that change state (sign-in,
//! sign-out) carry CSRF tokens ([`session`]).

pub mod markdown;
pub mod session;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::session::Viewer;
use super::AppState;
use super::error::DataError;
use super::packages;
use super::store::{self, PackageKey, PackageStats, StoreError};
use crate::format::Format;

/// Rows per page of a package list.
pub const PAGE_SIZE: usize = 25;

/// The Content-Security-Policy of every console response: nothing but this origin's
/// stylesheet and images, no script, no frames, forms only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("console.css");

/// The formats whose data planes this server mounts (for endpoints and commands).
#[derive(Debug, Clone)]
struct Served(Arc<Vec<Format>>);

/// Mount the console's routes on `router`; `formats` are those of the mounted data planes.
pub fn routes(router: Router<Arc<AppState>>, formats: Vec<Format>) -> Router<Arc<AppState>> {
    let console = Router::new()
        .route("/", any(root))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(dashboard))
        .route("/ui/console.css", get(stylesheet))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", axum::routing::post(logout))
        .route("/ui/search", get(search_all))
        .route("/ui/r/{domain}/{repository}/", get(repository_page))
        .route(
            "/ui/r/{domain}/{repository}/packages",
            get(search_repository),
        )
        .route("/ui/r/{domain}/{repository}/package", get(package_page))
        .route("/ui/r/{domain}/{repository}/download", get(download))
        .layer(axum::Extension(Served(Arc::new(formats))))
        .layer(axum::middleware::map_response(security_headers));
    router.merge(console)
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// `/`: the AWS CLI and SDKs sign what they send; anything signed, and anything but a
/// browser's GET, gets what `/` answered before the console (the control plane's unknown
/// route). A plain GET goes to the console.
async fn root(method: Method, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let signed = headers.contains_key(header::AUTHORIZATION)
        || uri
            .query()
            .is_some_and(|query| query.contains("X-Amz-Signature"));
    if (method == Method::GET || method == Method::HEAD) && !signed {
        Redirect::to("/ui/").into_response()
    } else {
        super::control::unknown_route()
    }
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

// ----- templates -----

fn environment() -> &'static minijinja::Environment<'static> {
    static ENVIRONMENT: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut environment = minijinja::Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("login.html", include_str!("templates/login.html")),
            ("dashboard.html", include_str!("templates/dashboard.html")),
            ("repository.html", include_str!("templates/repository.html")),
            ("packages.html", include_str!("templates/packages.html")),
            ("package.html", include_str!("templates/package.html")),
            ("error.html", include_str!("templates/error.html")),
        ] {
            if let Err(error) = environment.add_template(name, source) {
                tracing::error!(%error, template = name, "console template does not parse");
            }
        }
        environment
    })
}

fn render(status: StatusCode, template: &str, context: &minijinja::Value) -> Response {
    match environment()
        .get_template(template)
        .and_then(|template| template.render(context))
    {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, template, "console template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the console page failed to render",
            )
                .into_response()
        }
    }
}

/// What every signed-in page's header shows.
#[derive(Serialize)]
struct Who {
    name: String,
    how: &'static str,
    csrf: String,
}

fn who(viewer: &Viewer) -> Who {
    Who {
        name: viewer.principal.name.clone(),
        how: viewer.how(),
        csrf: viewer.csrf.clone(),
    }
}

/// A console failure, shown as a page.
#[derive(Debug)]
struct ConsoleError {
    status: StatusCode,
    message: String,
}

impl ConsoleError {
    fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ConsoleError {
    fn from(error: StoreError) -> Self {
        let data = DataError::from(error);
        Self {
            status: data.status,
            message: data.message,
        }
    }
}

impl From<crate::server::index::Error> for ConsoleError {
    fn from(error: crate::server::index::Error) -> Self {
        Self::from(StoreError::from(error))
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        render(
            self.status,
            "error.html",
            &minijinja::context! { title => "Error", status => self.status.as_u16(), message => self.message },
        )
    }
}

/// The signed-in viewer, or a redirect to the sign-in page that comes back to `uri`.
async fn require_viewer(
    state: &AppState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Result<Viewer, Response> {
    if let Some(viewer) = session::viewer(state, headers).await {
        return Ok(viewer);
    }
    let back = uri.path_and_query().map_or("/ui/", |path| path.as_str());
    let target = format!(
        "/ui/login?next={}",
        percent_encoding::utf8_percent_encode(back, percent_encoding::NON_ALPHANUMERIC)
    );
    Err(Redirect::to(&target).into_response())
}

/// 404 unless the viewer may read the repository and it exists: a repository the viewer may
/// not read is indistinguishable from a missing one.
async fn require_readable(
    state: &AppState,
    viewer: &Viewer,
    domain: &str,
    repository: &str,
) -> Result<store::Repository, ConsoleError> {
    let missing = || {
        ConsoleError::not_found(format!(
            "no repository `{domain}/{repository}` that you may read"
        ))
    };
    if !viewer.reads(domain, repository) {
        return Err(missing());
    }
    let (lookup_domain, lookup_repository) = (domain.to_owned(), repository.to_owned());
    state
        .store
        .with(move |connection| -> Result<_, ConsoleError> {
            Ok(store::repository(
                connection,
                &lookup_domain,
                &lookup_repository,
            )?)
        })
        .await?
        .ok_or_else(missing)
}

/// Every repository the viewer may read, by domain then name.
async fn readable_repositories(
    state: &AppState,
    viewer: &Viewer,
) -> Result<Vec<store::Repository>, ConsoleError> {
    let all = state
        .store
        .with(|connection| -> Result<_, ConsoleError> {
            Ok(store::repositories(connection, None)?)
        })
        .await?;
    Ok(all
        .into_iter()
        .filter(|repository| viewer.reads(&repository.domain, &repository.name))
        .collect())
}

// ----- sign-in -----

#[derive(Deserialize, Default)]
struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
}

/// Only console paths are followed after sign-in (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with("/ui/") && !path.starts_with("//") && !path.contains('\\') =>
        {
            path.to_owned()
        }
        _ => "/ui/".to_owned(),
    }
}

fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    next: &str,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let csrf = session::random_token();
    let mut response = render(
        status,
        "login.html",
        &minijinja::context! { title => "Sign in", csrf => csrf, next => next, error => error },
    );
    if let Ok(value) = HeaderValue::from_str(&session::set_cookie(
        state,
        headers,
        session::LOGIN_COOKIE,
        &csrf,
        3600,
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn login_form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    login_page(
        &state,
        &headers,
        &safe_next(query.next.as_deref()),
        StatusCode::OK,
        None,
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    secret_access_key: String,
    #[serde(default)]
    token: String,
}

async fn login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    if !session::login_csrf_matches(&headers, &form.csrf) {
        return login_page(
            &state,
            &headers,
            &next,
            StatusCode::FORBIDDEN,
            Some("the sign-in form expired or did not come from this console; sign in again"),
        );
    }
    let token = form.token.trim();
    let signed_in = if token.is_empty() {
        session::by_access_key(&state, &form.access_key_id, &form.secret_access_key)
            .map(|principal| session::for_access_key(&state, &principal))
            .ok_or_else(|| "unknown access key id or wrong secret access key".to_owned())
    } else {
        super::access::token_principal(&state, token)
            .await
            .map(|_| session::for_token(&state, token))
            .map_err(|error| error.message)
    };
    let cookie = match signed_in {
        Ok(cookie) => cookie,
        Err(message) => {
            return login_page(
                &state,
                &headers,
                &next,
                StatusCode::UNAUTHORIZED,
                Some(&message),
            );
        }
    };
    let mut response = Redirect::to(&next).into_response();
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a positive number of seconds well within u64"
    )]
    let max_age = session::SESSION_SECONDS as u64;
    for value in [
        session::set_cookie(&state, &headers, session::SESSION_COOKIE, &cookie, max_age),
        session::set_cookie(&state, &headers, session::LOGIN_COOKIE, "", 0),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LogoutForm>,
) -> Response {
    if let Some(viewer) = session::viewer(&state, &headers).await
        && !session::csrf_matches(&viewer, &form.csrf)
    {
        return ConsoleError {
            status: StatusCode::FORBIDDEN,
            message: "the sign-out form did not come from this console".to_owned(),
        }
        .into_response();
    }
    let mut response = Redirect::to("/ui/login").into_response();
    if let Ok(value) = HeaderValue::from_str(&session::set_cookie(
        &state,
        &headers,
        session::SESSION_COOKIE,
        "",
        0,
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

// ----- shared views -----

/// A package row as the lists show it.
#[derive(Serialize, Clone)]
struct PackageItem {
    domain: String,
    repository: String,
    format: String,
    namespace: String,
    name: String,
    display: String,
    versions: i64,
    external_versions: i64,
    latest_version: String,
    latest_published: String,
    size: String,
    link: String,
}

/// How people write a package's name in its format: `@scope/name` (npm), `group:artifact`
/// (Maven), `namespace/name` (generic, swift), the name alone otherwise.
fn display_name(format: &str, namespace: &str, package: &str) -> String {
    if namespace.is_empty() {
        return package.to_owned();
    }
    match format {
        "npm" => format!("@{namespace}/{package}"),
        "maven" => format!("{namespace}:{package}"),
        _ => format!("{namespace}/{package}"),
    }
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

fn repository_link(domain: &str, repository: &str) -> String {
    format!("/ui/r/{}/{}/", segment(domain), segment(repository))
}

fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn package_link(
    domain: &str,
    repository: &str,
    format: &str,
    namespace: &str,
    name: &str,
    version: Option<&str>,
) -> String {
    let mut pairs = vec![("format", format), ("namespace", namespace), ("name", name)];
    if let Some(version) = version {
        pairs.push(("version", version));
    }
    format!(
        "{}package?{}",
        repository_link(domain, repository),
        query_string(&pairs)
    )
}

fn package_item(domain: &str, repository: &str, stats: &PackageStats) -> PackageItem {
    PackageItem {
        domain: domain.to_owned(),
        repository: repository.to_owned(),
        format: stats.format.clone(),
        namespace: stats.namespace.clone(),
        name: stats.package.clone(),
        display: display_name(&stats.format, &stats.namespace, &stats.package),
        versions: stats.versions,
        external_versions: stats.external_versions,
        latest_version: stats.latest_version.clone(),
        latest_published: when(stats.latest_published),
        size: human_bytes(stats.bytes),
        link: package_link(
            domain,
            repository,
            &stats.format,
            &stats.namespace,
            &stats.package,
            None,
        ),
    }
}

/// Epoch seconds as `2026-12-08 01:02:03 UTC`.
fn when(epoch: f64) -> String {
    let text = super::access::iso8601(epoch);
    text.get(..19).map_or(text.clone(), |moment| {
        format!("{} UTC", moment.replace('T', " "))
    })
}

fn human_bytes(bytes: i64) -> String {
    #[expect(clippy::cast_precision_loss, reason = "a display value")]
    let mut value = bytes as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if value < 1024.0 || unit == "GiB" {
            return if unit == "B" {
                format!("{bytes} B")
            } else {
                format!("{value:.1} {unit}")
            };
        }
        value /= 1024.0;
    }
    format!("{bytes} B")
}

async fn stats_of(
    state: &AppState,
    domain: &str,
    repository: &str,
) -> Result<Vec<PackageStats>, ConsoleError> {
    let (domain, repository) = (domain.to_owned(), repository.to_owned());
    state
        .store
        .with(move |connection| -> Result<_, ConsoleError> {
            Ok(store::package_stats(connection, &domain, &repository)?)
        })
        .await
}

// ----- dashboard -----

#[derive(Serialize)]
struct RepositoryItem {
    domain: String,
    name: String,
    description: Option<String>,
    formats: Vec<String>,
    packages: usize,
    versions: i64,
    size: String,
    link: String,
}

#[derive(Serialize)]
struct RecentItem {
    repository: String,
    display: String,
    format: String,
    version: String,
    published: String,
    origin: String,
    link: String,
}

async fn dashboard(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let viewer = match require_viewer(&state, &headers, &uri).await {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    match dashboard_page(&state, &viewer).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn dashboard_page(state: &AppState, viewer: &Viewer) -> Result<Response, ConsoleError> {
    let repositories = readable_repositories(state, viewer).await?;
    let mut items = Vec::new();
    let mut total_bytes = 0;
    let mut total_packages = 0;
    let mut total_versions = 0;
    let mut recent = Vec::new();
    for repository in &repositories {
        let stats = stats_of(state, &repository.domain, &repository.name).await?;
        let bytes: i64 = stats.iter().map(|package| package.bytes).sum();
        let versions: i64 = stats.iter().map(|package| package.versions).sum();
        total_bytes += bytes;
        total_packages += stats.len();
        total_versions += versions;
        let formats: BTreeSet<String> =
            stats.iter().map(|package| package.format.clone()).collect();
        items.push(RepositoryItem {
            domain: repository.domain.clone(),
            name: repository.name.clone(),
            description: repository.description.clone(),
            formats: formats.into_iter().collect(),
            packages: stats.len(),
            versions,
            size: human_bytes(bytes),
            link: repository_link(&repository.domain, &repository.name),
        });
        let (domain, name) = (repository.domain.clone(), repository.name.clone());
        let latest = state
            .store
            .with(move |connection| -> Result<_, ConsoleError> {
                Ok(store::recent_versions(connection, &domain, &name, 10)?)
            })
            .await?;
        for (package, version, connection) in latest {
            recent.push((
                version.published,
                RecentItem {
                    repository: format!("{}/{}", repository.domain, repository.name),
                    display: display_name(&package.format, &package.namespace, &package.package),
                    format: package.format.clone(),
                    version: version.version.clone(),
                    published: when(version.published),
                    origin: connection.map_or_else(
                        || "published here".to_owned(),
                        |connection| format!("pulled through from {connection}"),
                    ),
                    link: package_link(
                        &repository.domain,
                        &repository.name,
                        &package.format,
                        &package.namespace,
                        &package.package,
                        Some(&version.version),
                    ),
                },
            ));
        }
    }
    recent.sort_by(|left, right| right.0.total_cmp(&left.0));
    let recent: Vec<RecentItem> = recent.into_iter().take(10).map(|(_, item)| item).collect();
    let metrics = super::metrics::snapshot();
    #[expect(clippy::cast_precision_loss, reason = "a display percentage")]
    let hit_rate = (metrics.data_plane_reads > 0).then(|| {
        let misses = metrics.upstream_requests.min(metrics.data_plane_reads);
        format!(
            "{:.1} %",
            100.0 * (metrics.data_plane_reads - misses) as f64 / metrics.data_plane_reads as f64
        )
    });
    let mut domains: BTreeMap<String, Vec<RepositoryItem>> = BTreeMap::new();
    for item in items {
        domains.entry(item.domain.clone()).or_default().push(item);
    }
    Ok(render(
        StatusCode::OK,
        "dashboard.html",
        &minijinja::context! {
            title => "Dashboard",
            who => who(viewer),
            domains => domains,
            storage => human_bytes(total_bytes),
            packages => total_packages,
            versions => total_versions,
            hit_rate => hit_rate,
            data_plane_reads => metrics.data_plane_reads,
            upstream_requests => metrics.upstream_requests,
            upstream_bytes => human_bytes(i64::try_from(metrics.upstream_bytes).unwrap_or(i64::MAX)),
            recent => recent,
        },
    ))
}

// ----- repository -----

#[derive(Serialize)]
struct FormatUse {
    format: String,
    endpoint: String,
    held: bool,
    commands: Vec<Command>,
}

#[derive(Serialize)]
struct Command {
    label: String,
    text: String,
}

/// `url` with `aws:${TOKEN}@` as its userinfo (pip and friends read Basic credentials there).
fn with_token_userinfo(url: &str) -> String {
    url.split_once("://").map_or_else(
        || url.to_owned(),
        |(scheme, rest)| format!("{scheme}://aws:${{TOKEN}}@{rest}"),
    )
}

/// The commands that point clients of `format` at a repository: `lading login`, `aws
/// codeartifact login` where the AWS CLI knows the tool, and the format's own client.
fn commands(
    state: &AppState,
    base: &str,
    domain: &str,
    repository: &str,
    format: Format,
    endpoint: &str,
) -> Vec<Command> {
    let coordinates = format!(
        "--domain {domain} --domain-owner {} --repository {repository} --endpoint-url {base} --region {}",
        state.account, state.region
    );
    let mut commands = Vec::new();
    let tools: Vec<&str> = format
        .tools()
        .into_iter()
        .map(crate::format::Tool::name)
        .collect();
    if !tools.is_empty() {
        let flags: Vec<String> = tools.iter().map(|tool| format!("--tool {tool}")).collect();
        commands.push(Command {
            label: "lading login".to_owned(),
            text: format!("lading login {} {coordinates}", flags.join(" ")),
        });
    }
    let aws_tools: &[&str] = match format {
        Format::Npm => &["npm"],
        Format::Pypi => &["pip", "twine"],
        Format::Nuget => &["nuget", "dotnet"],
        Format::Swift => &["swift"],
        _ => &[],
    };
    for tool in aws_tools {
        commands.push(Command {
            label: format!("aws codeartifact login ({tool})"),
            text: format!("aws codeartifact login --tool {tool} {coordinates}"),
        });
    }
    let native = match format {
        Format::Npm => Some(format!(
            "npm config set registry {endpoint}\nnpm config set //{}:_authToken \"${{TOKEN}}\"",
            endpoint
                .split_once("://")
                .map_or(endpoint, |(_, rest)| rest)
        )),
        Format::Pypi => Some(format!(
            "pip install --index-url \"{}simple/\" PACKAGE",
            with_token_userinfo(endpoint)
        )),
        Format::Maven => Some(format!(
            "<repository><id>codeartifact</id><url>{endpoint}</url></repository>\n<server><id>codeartifact</id><username>aws</username><password>${{env.TOKEN}}</password></server>"
        )),
        Format::Nuget => Some(format!(
            "nuget sources add -Name {domain}/{repository} -Source {endpoint}v3/index.json -Username aws -Password \"${{TOKEN}}\""
        )),
        Format::Cargo => Some(format!(
            "CARGO_REGISTRIES_LADING_INDEX=sparse+{endpoint} CARGO_REGISTRIES_LADING_TOKEN=\"Bearer ${{TOKEN}}\" cargo fetch"
        )),
        Format::Ruby => Some(format!(
            "gem install PACKAGE --clear-sources --source \"{}\"",
            with_token_userinfo(endpoint)
        )),
        Format::Swift => Some(format!(
            "swift package-registry set {endpoint}\nswift package-registry login {endpoint} --token \"${{TOKEN}}\""
        )),
        Format::Generic => Some(format!(
            "aws codeartifact list-packages --format generic --domain {domain} --domain-owner {} --repository {repository} --endpoint-url {base} --region {}",
            state.account, state.region
        )),
    };
    if let Some(text) = native {
        commands.push(Command {
            label: format!("{format} client"),
            text,
        });
    }
    commands
}

async fn repository_page(
    State(state): State<Arc<AppState>>,
    axum::Extension(served): axum::Extension<Served>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path((domain, repository)): Path<(String, String)>,
) -> Response {
    let viewer = match require_viewer(&state, &headers, &uri).await {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    match repository_view(&state, &served, &headers, &viewer, &domain, &repository).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn repository_view(
    state: &AppState,
    served: &Served,
    headers: &HeaderMap,
    viewer: &Viewer,
    domain: &str,
    repository: &str,
) -> Result<Response, ConsoleError> {
    let row = require_readable(state, viewer, domain, repository).await?;
    let stats = stats_of(state, domain, repository).await?;
    let (lookup_domain, lookup_repository) = (domain.to_owned(), repository.to_owned());
    let (upstreams, connections) = state
        .store
        .with(move |connection| -> Result<_, ConsoleError> {
            Ok((
                packages::upstreams(connection, &lookup_domain, &lookup_repository)?,
                packages::external_connections(connection, &lookup_domain, &lookup_repository)?,
            ))
        })
        .await?;
    // Upstream repositories are named, linked only where the viewer may read them.
    let upstreams: Vec<minijinja::Value> = upstreams
        .into_iter()
        .map(|name| {
            let link = viewer
                .reads(domain, &name)
                .then(|| repository_link(domain, &name));
            minijinja::context! { name => name, link => link }
        })
        .collect();
    let connections: Vec<minijinja::Value> = connections
        .into_iter()
        .map(|name| {
            let connection = state.externals.get(&name);
            minijinja::context! {
                name => name,
                format => connection.map_or("unknown", |connection| connection.format.name()),
            }
        })
        .collect();
    let held: BTreeSet<&str> = stats
        .iter()
        .map(|package| package.format.as_str())
        .collect();
    let base = state.base_url(headers);
    let formats: Vec<FormatUse> = served
        .0
        .iter()
        .map(|format| {
            let endpoint = state.repository_endpoint(headers, domain, *format, repository);
            FormatUse {
                format: format.name().to_owned(),
                held: held.contains(format.name()),
                commands: commands(state, &base, domain, repository, *format, &endpoint),
                endpoint,
            }
        })
        .collect();
    let mut by_format: BTreeMap<String, (usize, i64)> = BTreeMap::new();
    for package in &stats {
        let entry = by_format.entry(package.format.clone()).or_default();
        entry.0 += 1;
        entry.1 += package.versions;
    }
    let counts: Vec<minijinja::Value> = by_format
        .into_iter()
        .map(|(format, (packages, versions))| minijinja::context! { format => format, packages => packages, versions => versions })
        .collect();
    let token_command = format!(
        "TOKEN=$(aws codeartifact get-authorization-token --domain {domain} --domain-owner {} --endpoint-url {base} --region {} --query authorizationToken --output text)",
        state.account, state.region
    );
    Ok(render(
        StatusCode::OK,
        "repository.html",
        &minijinja::context! {
            title => format!("{domain}/{repository}"),
            who => who(viewer),
            domain => domain,
            repository => repository,
            description => row.description,
            created => when(row.created),
            upstreams => upstreams,
            connections => connections,
            counts => counts,
            packages => stats.len(),
            versions => stats.iter().map(|package| package.versions).sum::<i64>(),
            size => human_bytes(stats.iter().map(|package| package.bytes).sum()),
            formats => formats,
            token_command => token_command,
            packages_link => format!("{}packages", repository_link(domain, repository)),
        },
    ))
}

// ----- package lists and search -----

#[derive(Deserialize, Default, Clone)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    /// `substring` (default) or `prefix`.
    #[serde(default, rename = "match")]
    matching: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    namespace: String,
    /// `internal` (published here), `external` (pulled through) or empty.
    #[serde(default)]
    origin: String,
    #[serde(default)]
    page: Option<usize>,
}

impl SearchQuery {
    fn keeps(&self, stats: &PackageStats) -> bool {
        let query = self.q.trim().to_lowercase();
        let name = stats.package.to_lowercase();
        let display = display_name(&stats.format, &stats.namespace, &stats.package).to_lowercase();
        let named = query.is_empty()
            || if self.matching == "prefix" {
                name.starts_with(&query) || display.starts_with(&query)
            } else {
                display.contains(&query)
            };
        let origin = match self.origin.as_str() {
            "internal" => stats.versions > stats.external_versions,
            "external" => stats.external_versions > 0,
            _ => true,
        };
        named
            && (self.format.is_empty() || self.format == stats.format)
            && (self.namespace.is_empty() || self.namespace == stats.namespace)
            && origin
    }

    fn link(&self, path: &str, page: usize) -> String {
        let page = page.to_string();
        format!(
            "{path}?{}",
            query_string(&[
                ("q", &self.q),
                ("match", &self.matching),
                ("format", &self.format),
                ("namespace", &self.namespace),
                ("origin", &self.origin),
                ("page", &page),
            ])
        )
    }
}

async fn search_all(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(query): Query<SearchQuery>,
) -> Response {
    let viewer = match require_viewer(&state, &headers, &uri).await {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    let result = async {
        let repositories = readable_repositories(&state, &viewer).await?;
        let mut found = Vec::new();
        for repository in repositories {
            for stats in stats_of(&state, &repository.domain, &repository.name).await? {
                if query.keeps(&stats) {
                    found.push(package_item(&repository.domain, &repository.name, &stats));
                }
            }
        }
        Ok::<_, ConsoleError>(list_page(&viewer, &query, found, "/ui/search", None))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn search_repository(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path((domain, repository)): Path<(String, String)>,
    Query(query): Query<SearchQuery>,
) -> Response {
    let viewer = match require_viewer(&state, &headers, &uri).await {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    let result = async {
        require_readable(&state, &viewer, &domain, &repository).await?;
        let found: Vec<PackageItem> = stats_of(&state, &domain, &repository)
            .await?
            .iter()
            .filter(|stats| query.keeps(stats))
            .map(|stats| package_item(&domain, &repository, stats))
            .collect();
        let path = format!("{}packages", repository_link(&domain, &repository));
        Ok::<_, ConsoleError>(list_page(
            &viewer,
            &query,
            found,
            &path,
            Some((&domain, &repository)),
        ))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

fn list_page(
    viewer: &Viewer,
    query: &SearchQuery,
    found: Vec<PackageItem>,
    path: &str,
    scope: Option<(&str, &str)>,
) -> Response {
    let total = found.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let formats: BTreeSet<String> = Format::ALL
        .iter()
        .map(|format| format.name().to_owned())
        .collect();
    let items: Vec<PackageItem> = found
        .into_iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    let title = scope.map_or_else(
        || "Search packages".to_owned(),
        |(domain, repository)| format!("Packages in {domain}/{repository}"),
    );
    render(
        StatusCode::OK,
        "packages.html",
        &minijinja::context! {
            title => title,
            who => who(viewer),
            scope => scope.map(|(domain, repository)| minijinja::context! { domain => domain, repository => repository, link => repository_link(domain, repository) }),
            action => path,
            q => query.q,
            matching => if query.matching == "prefix" { "prefix" } else { "substring" },
            format => query.format,
            namespace => query.namespace,
            origin => query.origin,
            formats => formats,
            items => items,
            total => total,
            page => page,
            pages => pages,
            previous => (page > 1).then(|| query.link(path, page - 1)),
            next => (page < pages).then(|| query.link(path, page + 1)),
        },
    )
}

// ----- package -----

#[derive(Deserialize)]
struct PackageQuery {
    format: String,
    #[serde(default)]
    namespace: String,
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    asset: Option<String>,
}

impl PackageQuery {
    fn key(&self, domain: &str, repository: &str) -> PackageKey {
        PackageKey {
            domain: domain.to_owned(),
            repository: repository.to_owned(),
            format: self.format.clone(),
            namespace: self.namespace.clone(),
            package: self.name.clone(),
        }
    }
}

#[derive(Serialize)]
struct VersionItem {
    version: String,
    status: String,
    published: String,
    origin: String,
    external: bool,
    size: String,
    link: String,
    selected: bool,
}

#[derive(Serialize)]
struct AssetItem {
    name: String,
    size: String,
    bytes: u64,
    sha256: String,
    sha512: String,
    sha1: String,
    md5: String,
    download: String,
}

/// Where a version came from, in words.
fn origin_text(origin: Option<&packages::Origin>, repository: &str) -> (String, bool) {
    match origin {
        Some(origin) if origin.origin_type == "EXTERNAL" => {
            let connection = origin
                .external_connection
                .as_deref()
                .unwrap_or("an external connection");
            let via = if origin.entry_repository == repository {
                String::new()
            } else {
                format!(" via {}", origin.entry_repository)
            };
            (format!("pulled through from {connection}{via}"), true)
        }
        Some(origin) if origin.entry_repository != repository => (
            format!("published in {}, from upstream", origin.entry_repository),
            false,
        ),
        _ => ("published here".to_owned(), false),
    }
}

/// A file-name-safe package name as `lading publish` names the provenance package beside a
/// package of a format that holds no provenance file itself.
fn provenance_package(name: &str) -> String {
    let cleaned: String = name
        .trim_start_matches('@')
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-') {
                character
            } else {
                '-'
            }
        })
        .collect();
    format!("{cleaned}.provenance")
}

/// What the console shows of a stored SLSA provenance.
#[derive(Serialize, Default)]
struct ProvenanceView {
    file: String,
    download: String,
    builder: Option<String>,
    build_type: Option<String>,
    source: Option<String>,
    commit: Option<String>,
    subjects: Vec<minijinja::Value>,
    signatures: Vec<String>,
    /// `verifies`, `unsigned`, or why it was not verified.
    signature: &'static str,
    /// The keyid of the key that verified every envelope.
    verified_with: Option<String>,
    subjects_match: bool,
    error: Option<String>,
}

/// A `.intoto.jsonl` (one DSSE envelope per line) as the console shows it: builder, source
/// commit, subjects checked against the version's assets, and signatures checked against
/// the server's `provenance_public_keys`.
fn provenance_view(
    bytes: &[u8],
    assets: &[store::AssetRow],
    keys: &[crate::provenance::dsse::VerifyingKey],
) -> ProvenanceView {
    use crate::provenance::{Statement, dsse::Envelope};
    let mut view = ProvenanceView::default();
    let text = String::from_utf8_lossy(bytes);
    let mut all_match = true;
    let mut verified_with: Option<String> = None;
    let mut all_verified = true;
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let parsed = Envelope::parse(line).and_then(|envelope| {
            let payload = envelope.payload_bytes()?;
            let statement: Statement = serde_json::from_slice(&payload).map_err(|error| {
                crate::provenance::dsse::DsseError::Malformed(format!(
                    "not an in-toto statement: {error}"
                ))
            })?;
            Ok((envelope, statement))
        });
        let (envelope, statement) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                view.error = Some(error.to_string());
                return view;
            }
        };
        let text_at = |pointer: &str| {
            statement
                .predicate
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(ToOwned::to_owned)
        };
        view.builder = view.builder.or_else(|| text_at("/runDetails/builder/id"));
        view.build_type = view
            .build_type
            .or_else(|| text_at("/buildDefinition/buildType"));
        for dependency in statement.resolved_dependencies() {
            if let Some(commit) = dependency
                .digest
                .get("gitCommit")
                .or_else(|| dependency.digest.get("sha1"))
                && view.commit.is_none()
            {
                view.commit = Some(commit.clone());
                view.source.clone_from(&dependency.uri);
            }
        }
        for subject in statement.subject {
            let sha256 = subject.digest.get("sha256").cloned().unwrap_or_default();
            let matched = assets.iter().any(|asset| asset.digests.sha256 == sha256);
            all_match &= matched;
            view.subjects.push(minijinja::context! {
                name => subject.name.unwrap_or_default(),
                sha256 => sha256,
                matched => matched,
            });
        }
        view.signatures
            .extend(envelope.signatures.iter().map(|signature| {
                if signature.keyid.is_empty() {
                    "signature without keyid".to_owned()
                } else {
                    format!("keyid {}", signature.keyid)
                }
            }));
        match keys.iter().find(|key| envelope.verify(key).is_ok()) {
            Some(key) => verified_with = Some(key.keyid()),
            None => all_verified = false,
        }
    }
    view.subjects_match = all_match && !view.subjects.is_empty();
    view.signature = if view.signatures.is_empty() {
        "unsigned"
    } else if keys.is_empty() {
        "not checked: the server has no provenance_public_keys"
    } else if all_verified {
        "verifies"
    } else {
        "does not verify with any key in provenance_public_keys"
    };
    view.verified_with = verified_with.filter(|_| all_verified);
    view
}

async fn package_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path((domain, repository)): Path<(String, String)>,
    Query(query): Query<PackageQuery>,
) -> Response {
    let viewer = match require_viewer(&state, &headers, &uri).await {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    package_view(&state, &viewer, &domain, &repository, &query)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

fn download_link(
    domain: &str,
    repository: &str,
    key: &PackageKey,
    version: &str,
    asset: &str,
) -> String {
    format!(
        "{}download?{}",
        repository_link(domain, repository),
        query_string(&[
            ("format", &key.format),
            ("namespace", &key.namespace),
            ("name", &key.package),
            ("version", version),
            ("asset", asset),
        ])
    )
}

#[expect(clippy::too_many_lines, reason = "one page, read top to bottom")]
async fn package_view(
    state: &AppState,
    viewer: &Viewer,
    domain: &str,
    repository: &str,
    query: &PackageQuery,
) -> Result<Response, ConsoleError> {
    require_readable(state, viewer, domain, repository).await?;
    let key = query.key(domain, repository);
    let lookup = key.clone();
    let (versions, restrictions, tags) = state
        .store
        .with(move |connection| -> Result<_, ConsoleError> {
            let mut versions = Vec::new();
            for row in store::versions(connection, &lookup)? {
                let origin = packages::version_origin(connection, row.id)?;
                let assets = store::assets(connection, row.id)?;
                versions.push((row, origin, assets));
            }
            Ok((
                versions,
                packages::effective_restrictions(connection, &lookup)?,
                store::dist_tags(connection, &lookup)?,
            ))
        })
        .await?;
    let display = display_name(&key.format, &key.namespace, &key.package);
    if versions.is_empty() {
        return Err(ConsoleError::not_found(format!(
            "no package `{display}` ({}) in `{domain}/{repository}`",
            key.format
        )));
    }
    let selected_index = query
        .version
        .as_deref()
        .and_then(|wanted| {
            versions
                .iter()
                .position(|(row, _, _)| row.version == wanted)
        })
        .unwrap_or(versions.len() - 1);
    if let Some(wanted) = query.version.as_deref()
        && versions[selected_index].0.version != wanted
    {
        return Err(ConsoleError::not_found(format!(
            "no version `{wanted}` of `{display}` in `{domain}/{repository}`"
        )));
    }
    let items: Vec<VersionItem> = versions
        .iter()
        .enumerate()
        .rev()
        .map(|(index, (row, origin, assets))| {
            let (origin, external) = origin_text(origin.as_ref(), repository);
            #[expect(clippy::cast_possible_wrap, reason = "sizes fit in i64")]
            let size = assets.iter().map(|asset| asset.size as i64).sum();
            VersionItem {
                version: row.version.clone(),
                status: row.status.clone(),
                published: when(row.published),
                origin,
                external,
                size: human_bytes(size),
                link: package_link(
                    domain,
                    repository,
                    &key.format,
                    &key.namespace,
                    &key.package,
                    Some(&row.version),
                ),
                selected: index == selected_index,
            }
        })
        .collect();
    let (row, origin, assets) = &versions[selected_index];
    let manifest = super::control::versions::manifest(row);
    let readme = super::control::versions::readme(&key.format, &manifest)
        .map(|text| markdown::render(&text));
    let description = manifest
        .get("description")
        .or_else(|| manifest.pointer("/metadata/summary"))
        .and_then(Value::as_str)
        .filter(|text| readme.is_none() || key.format != "nuget" || text.len() < 200)
        .map(ToOwned::to_owned);
    let dependencies: Vec<minijinja::Value> = super::control::versions::dependencies(&key.format, &manifest)
        .into_iter()
        .map(|dependency| {
            let namespace = dependency.namespace.clone().unwrap_or_default();
            minijinja::context! {
                name => display_name(&key.format, &namespace, &dependency.package),
                kind => dependency.kind,
                requirement => dependency.requirement,
                link => package_link(domain, repository, &key.format, &namespace, &dependency.package, None),
            }
        })
        .collect();
    let asset_items: Vec<AssetItem> = assets
        .iter()
        .map(|asset| AssetItem {
            name: asset.name.clone(),
            #[expect(clippy::cast_possible_wrap, reason = "sizes fit in i64")]
            size: human_bytes(asset.size as i64),
            bytes: asset.size,
            sha256: asset.digests.sha256.clone(),
            sha512: asset.digests.sha512.clone(),
            sha1: asset.digests.sha1.clone(),
            md5: asset.digests.md5.clone(),
            download: download_link(domain, repository, &key, &row.version, &asset.name),
        })
        .collect();
    // Provenance: a `.intoto.jsonl` among the version's own assets, else the generic package
    // `lading publish` puts beside it (`<format>/<name>.provenance`, same version).
    let mut provenance_source: Option<(PackageKey, store::AssetRow)> = assets
        .iter()
        .find(|asset| asset.name.ends_with(".intoto.jsonl"))
        .map(|asset| (key.clone(), asset.clone()));
    if provenance_source.is_none() && key.format != "generic" {
        let candidates: BTreeSet<String> = [
            provenance_package(&display),
            provenance_package(&key.package),
        ]
        .into();
        let (version, lookup) = (row.version.clone(), key.clone());
        provenance_source = state
            .store
            .with(move |connection| -> Result<_, ConsoleError> {
                for name in candidates {
                    let beside = PackageKey {
                        format: "generic".to_owned(),
                        namespace: lookup.format.clone(),
                        package: name,
                        ..lookup.clone()
                    };
                    if let Some(found) = store::version(connection, &beside, &version)? {
                        let asset = store::assets(connection, found.id)?
                            .into_iter()
                            .find(|asset| asset.name.ends_with(".intoto.jsonl"));
                        if let Some(asset) = asset {
                            return Ok(Some((beside, asset)));
                        }
                    }
                }
                Ok(None)
            })
            .await?;
    }
    let provenance = match provenance_source {
        Some((source_key, asset)) => {
            let bytes = state.store.read_blob(asset.digests.sha256.clone()).await?;
            let mut view = provenance_view(&bytes, assets, &state.provenance_keys);
            view.file.clone_from(&asset.name);
            view.download =
                download_link(domain, repository, &source_key, &row.version, &asset.name);
            Some(view)
        }
        None => None,
    };
    let (origin, external) = origin_text(origin.as_ref(), repository);
    let tags: Vec<minijinja::Value> = tags
        .into_iter()
        .map(|(tag, version)| minijinja::context! { tag => tag, version => version })
        .collect();
    Ok(render(
        StatusCode::OK,
        "package.html",
        &minijinja::context! {
            title => format!("{display} {}", row.version),
            who => who(viewer),
            domain => domain,
            repository => repository,
            repository_link => repository_link(domain, repository),
            packages_link => format!("{}packages", repository_link(domain, repository)),
            format => key.format,
            namespace => key.namespace,
            display => display,
            version => row.version,
            status => row.status,
            revision => row.revision,
            published => when(row.published),
            origin => origin,
            external => external,
            versions => items,
            tags => tags,
            readme => readme.map(minijinja::Value::from_safe_string),
            description => description,
            dependencies => dependencies,
            assets => asset_items,
            restrictions => minijinja::context! { publish => restrictions.publish, upstream => restrictions.upstream },
            provenance => provenance,
        },
    ))
}

async fn download(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path((domain, repository)): Path<(String, String)>,
    Query(query): Query<PackageQuery>,
) -> Response {
    let viewer = match require_viewer(&state, &headers, &uri).await {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    let result = async {
        require_readable(&state, &viewer, &domain, &repository).await?;
        let key = query.key(&domain, &repository);
        let (Some(version), Some(asset_name)) = (query.version.clone(), query.asset.clone()) else {
            return Err(ConsoleError {
                status: StatusCode::BAD_REQUEST,
                message: "a download names `version` and `asset`".to_owned(),
            });
        };
        let lookup_name = asset_name.clone();
        let asset = state
            .store
            .with(move |connection| -> Result<_, ConsoleError> {
                let Some(row) = store::version(connection, &key, &version)? else {
                    return Ok(None);
                };
                Ok(store::assets(connection, row.id)?
                    .into_iter()
                    .find(|asset| asset.name == lookup_name))
            })
            .await?
            .ok_or_else(|| ConsoleError::not_found(format!("no asset `{asset_name}`")))?;
        let blob = state.store.open_blob(asset.digests.sha256.clone()).await?;
        let mut response = blob.respond(&headers);
        let file_name: String = asset
            .name
            .rsplit('/')
            .next()
            .unwrap_or("download")
            .chars()
            .map(|character| {
                if character.is_ascii_graphic() && character != '"' && character != '\\' {
                    character
                } else {
                    '_'
                }
            })
            .collect();
        let response_headers = response.headers_mut();
        response_headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
            response_headers.insert(header::CONTENT_DISPOSITION, value);
        }
        if let Ok(value) = HeaderValue::from_str(&asset.digests.sha256) {
            response_headers.insert("x-checksum-sha256", value);
        }
        Ok::<_, ConsoleError>(response)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_only_returns_to_console_pages() {
        assert_eq!(safe_next(Some("/ui/r/local/main/")), "/ui/r/local/main/");
        for hostile in [
            "//evil.example/ui/",
            "https://evil.example/",
            "/ui\\..",
            "/v1/domain",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/ui/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/ui/");
    }

    #[test]
    fn every_template_parses() {
        for name in [
            "base.html",
            "login.html",
            "dashboard.html",
            "repository.html",
            "packages.html",
            "package.html",
            "error.html",
        ] {
            environment()
                .get_template(name)
                .unwrap_or_else(|error| panic!("{name}: {error}"));
        }
    }

    #[test]
    fn names_read_as_in_their_format() {
        assert_eq!(display_name("npm", "acme", "tool"), "@acme/tool");
        assert_eq!(display_name("maven", "org.acme", "lib"), "org.acme:lib");
        assert_eq!(display_name("pypi", "", "requests"), "requests");
        assert_eq!(provenance_package("@acme/tool"), "acme-tool.provenance");
    }
}
