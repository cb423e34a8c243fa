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
//! an [`super::pull_through::UpstreamAdapter`] reading its upstream metadata.

use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;

use super::AppState;
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
