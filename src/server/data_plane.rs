//! What a format plugs into `lading serve`: its data plane.
//!
//! Each format that has one implements [`DataPlane`] in its own folder
//! (`src/ecosystem/<format>/serve.rs`, or `serve/` when it is several files), the format's
//! `Ecosystem::data_plane` returns it, and `crate::ecosystem::data_planes()` collects them
//! from the format registry; the server mounts every plane it is given
//! ([`super::ServerOptions::data_planes`]) and names no format itself. A plane's handlers
//! use the format-independent parts of the server: authentication and grants
//! ([`super::access`]), the index and blob store ([`super::store`]), streamed and capped
//! bodies ([`super::ingest`]), origin controls ([`super::packages`]) and, for reads through
//! upstreams, the pull-through engine ([`super::pull_through`]), to which the format gives
//! an [`super::pull_through::UpstreamAdapter`] reading its upstream metadata. What every
//! plane's handling of a request starts from (the repository its path names, whether it
//! exists, its packages' keys) is a [`DataRequest`], which a format's own request type
//! wraps (`data_request!`).

use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::any;

use super::AppState;
use super::cache::{Document, DocumentKey};
use super::error::DataError;
use super::store::PackageKey;
use crate::format::Format;

/// The routes of a data plane, on the router of the server's shared state.
pub type Routes = Router<Arc<AppState>>;

/// What a data plane's handler returns.
pub type Handling = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A format's data plane: the HTTP API its clients speak under
/// `/d/{domain}/{format}/{repository}/`, publishing and reading packages of the format.
pub trait DataPlane: Sync + std::fmt::Debug {
    /// The format; its name ([`Format::name`], as CodeArtifact spells it) is the endpoint's
    /// path segment.
    fn format(&self) -> Format;

    /// Answer one request under the endpoint; the handler reads the domain, repository and
    /// the rest of the path with [`super::split_data_path`].
    fn handle(&self, state: Arc<AppState>, request: Request) -> Handling;

    /// Whether the endpoint's own URL is routed too (twine posts there), not only the
    /// paths below it.
    fn serves_endpoint_itself(&self) -> bool {
        false
    }

    /// Add the plane's routes to `router`: every path under its endpoint, to
    /// [`Self::handle`].
    fn routes(&'static self, router: Routes) -> Routes {
        let endpoint = format!("/d/{{domain}}/{}/{{repository}}/", self.format().name());
        let handler =
            move |State(state): State<Arc<AppState>>, request: Request| self.handle(state, request);
        let router = if self.serves_endpoint_itself() {
            router.route(&endpoint, any(handler))
        } else {
            router
        };
        router.route(&format!("{endpoint}{{*rest}}"), any(handler))
    }
}

/// What every plane's handling of one request starts from: the server, the domain and
/// repository its path names, its headers, and the index generation when it arrived (what
/// its cache lookups are valid for). A format's request type wraps it (and dereferences to
/// it), adding what is its own.
#[derive(Debug)]
pub struct DataRequest<'a> {
    /// The server.
    pub state: &'a AppState,
    /// The domain in the path.
    pub domain: String,
    /// The repository in the path.
    pub repository: String,
    /// The request's headers.
    pub headers: &'a HeaderMap,
    /// The index generation when the request arrived.
    pub generation: Option<u64>,
}

impl<'a> DataRequest<'a> {
    /// A request for `repository` in `domain`, arriving now.
    #[must_use]
    pub fn new(
        state: &'a AppState,
        headers: &'a HeaderMap,
        domain: String,
        repository: String,
    ) -> Self {
        Self {
            state,
            domain,
            repository,
            headers,
            generation: state.store.generation(),
        }
    }

    /// A 404 unless the repository exists.
    ///
    /// # Errors
    /// [`DataError`]: 404, or 500 when the index fails.
    pub async fn require_repository(&self) -> Result<(), DataError> {
        self.state
            .require_repository_at(&self.domain, &self.repository, self.generation)
            .await
    }

    /// The blob `sha256` as a response of `content_type`, its sha256 the strong entity tag
    /// (content-addressed bytes never change under it): `304 Not Modified` when the
    /// request's `If-None-Match` names it, else the bytes (ranges as the blob store serves
    /// them).
    ///
    /// # Errors
    /// The blob store's.
    pub async fn content_addressed(
        &self,
        sha256: &str,
        content_type: &'static str,
    ) -> Result<Response, DataError> {
        let etag = HeaderValue::from_str(&format!("\"{sha256}\"")).ok();
        let mut response = match etag
            .as_ref()
            .and_then(|etag| super::cache::not_modified(self.headers, etag))
        {
            Some(response) => response,
            None => self
                .state
                .store
                .open_blob(sha256.to_owned())
                .await?
                .respond(self.headers),
        };
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(etag) = etag {
            headers.insert(header::ETAG, etag);
        }
        Ok(response)
    }

    /// The index generation a rendering of metadata for this request is cached under: the
    /// one it arrived at, unless the reader's grants narrow its upstream reads (it then gets
    /// its own view, not cached).
    ///
    /// # Errors
    /// [`DataError`] when the reader's grants cannot be read.
    pub async fn document_generation(&self) -> Result<Option<u64>, DataError> {
        let shared_view = super::access::reader(self.state, self.headers, &self.domain)
            .await?
            .is_some_and(|reader| reader.reads_every_repository(&self.domain));
        Ok(self.generation.filter(|_| shared_view))
    }

    /// The cached rendering `key` at `generation` (from [`Self::document_generation`]), as
    /// the answer to this request (`304` when its `If-None-Match` names it).
    #[must_use]
    pub fn cached_document(&self, key: &DocumentKey, generation: Option<u64>) -> Option<Response> {
        generation
            .and_then(|generation| self.state.caches.documents.get(key, generation))
            .map(|document| document.respond(self.headers))
    }

    /// Answer with `document`, the upstream `notes` in its header; kept in the document
    /// cache as `key` at `generation` unless external connections were consulted (what they
    /// offer changes without the index knowing).
    #[must_use]
    pub fn respond_document(
        &self,
        key: DocumentKey,
        generation: Option<u64>,
        document: Document,
        consulted_externals: bool,
        notes: &[String],
    ) -> Response {
        let document = Arc::new(document);
        if !consulted_externals && let Some(generation) = generation {
            self.state
                .caches
                .documents
                .insert(key, generation, Arc::clone(&document));
        }
        let mut response = document.respond(self.headers);
        super::upstream::add_notes(&mut response, notes);
        response
    }

    /// The package `namespace`/`package` of `format` in this repository.
    #[must_use]
    pub fn package_key(&self, format: Format, namespace: String, package: String) -> PackageKey {
        PackageKey {
            domain: self.domain.clone(),
            repository: self.repository.clone(),
            format: format.name().to_owned(),
            namespace,
            package,
        }
    }
}

/// Declare a format's request type: a [`DataRequest`] (its `request` field, and what it
/// dereferences to: `self.domain`, `self.require_repository()`) plus the format's own
/// fields.
///
/// ```ignore
/// data_request! {
///     /// One NuGet request.
///     struct NuGetRequest {
///         query: String,
///     }
/// }
/// ```
macro_rules! data_request {
    ($(#[$meta:meta])* struct $name:ident { $($(#[$field_meta:meta])* $field:ident: $type:ty),* $(,)? }) => {
        $(#[$meta])*
        struct $name<'a> {
            request: $crate::server::data_plane::DataRequest<'a>,
            $($(#[$field_meta])* $field: $type,)*
        }

        impl<'a> std::ops::Deref for $name<'a> {
            type Target = $crate::server::data_plane::DataRequest<'a>;

            fn deref(&self) -> &Self::Target {
                &self.request
            }
        }
    };
}
pub(crate) use data_request;
