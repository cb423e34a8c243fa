//! The pull-through engine: how every data plane reads through its upstreams.
//!
//! A read in repository R of a package R does not hold looks, in CodeArtifact's order, at
//! R's upstream repositories and then at the external connections they (and R) own
//! ([`super::packages::read_sources`], which also applies origin controls and the reader's
//! grants). This module is the one copy of everything after that which does not depend on
//! the format:
//!
//! - **metadata**: [`offers`] asks every external connection of the format, through the
//!   shared metadata cache ([`super::upstream::Externals::fetch_metadata`]: freshness under
//!   `--metadata-ttl`, `ETag` / `Last-Modified` revalidation, the cached copy when the
//!   upstream is down), and collects what each offers plus the notes a response reports in
//!   the `x-lading-upstream` header ([`super::upstream::add_notes`]);
//! - **content**: [`fetch_verified`] downloads a file and checks it against the digest the
//!   upstream claims (none: refused), [`store()`] places the verified bytes and records them
//!   with EXTERNAL origin in the repository owning the connection and in R, in one write
//!   transaction, and [`refused`] is the one answer for content that fails a check;
//! - **upstream repositories**: [`retain`] copies a version held upstream into R, as
//!   CodeArtifact retains what is requested through a repository.
//!
//! A format supplies only an [`UpstreamAdapter`]: which documents of an upstream describe a
//! package and how to read them into what the format merges into its own listing.

use std::future::Future;

use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::json;

use super::AppState;
use super::error::DataError;
use super::packages;
use super::store::{self, AssetRow, PackageKey};
use super::upstream::{ExternalConnection, Externals, Fetched};
use crate::archive::Digests;

/// How a format reads one package's metadata from an external connection of its format.
pub trait UpstreamAdapter: Sync {
    /// The format of the external connections it reads (`ExternalConnection::format`).
    const FORMAT: crate::format::Format;
    /// What it makes of the upstream's metadata (a packument, a project page, a version
    /// list...).
    type Document: Send;

    /// Read the package's metadata from `upstream`, fetching the documents it needs through
    /// [`UpstreamReader::document`]. `Ok(None)`: the upstream does not have the package;
    /// `Err`: a note for the response (see [`UpstreamReader`] for the wording).
    fn read(
        &self,
        upstream: &mut UpstreamReader<'_>,
    ) -> impl Future<Output = Result<Option<Self::Document>, String>> + Send;
}

/// One external connection as an [`UpstreamAdapter`] reads it: its documents through the
/// metadata cache, and whether any of them was the cached copy of a failing upstream.
#[derive(Debug)]
pub struct UpstreamReader<'a> {
    externals: &'a Externals,
    /// The connection being read.
    pub connection: &'a ExternalConnection,
    stale: bool,
}

impl UpstreamReader<'_> {
    /// A metadata document from the upstream, through the metadata cache; `cache_key` names
    /// it within the connection (the package, plus a suffix when a package has several).
    /// `Ok(None)` when the upstream does not have it.
    ///
    /// # Errors
    /// The upstream failed and nothing is cached: `<connection> unavailable: <why>`.
    pub async fn document(
        &mut self,
        url: &url::Url,
        accept: &str,
        cache_key: &str,
    ) -> Result<Option<Bytes>, String> {
        match self
            .externals
            .fetch_metadata(self.connection, url, accept, cache_key)
            .await
        {
            Fetched::Fresh(body) => Ok(Some(body)),
            Fetched::Stale(body) => {
                self.stale = true;
                Ok(Some(body))
            }
            Fetched::NotFound => Ok(None),
            Fetched::Unavailable(reason) => {
                Err(format!("{} unavailable: {reason}", self.connection.name))
            }
        }
    }

    /// `path` under the connection's URL.
    ///
    /// # Errors
    /// A note: `<connection>: bad URL: <why>`.
    pub fn join(&self, path: &str) -> Result<url::Url, String> {
        self.connection
            .url
            .join(path)
            .map_err(|error| format!("{}: bad URL: {error}", self.connection.name))
    }

    /// The note for a document the upstream sent that is not what it should be.
    #[must_use]
    pub fn invalid(&self, what: &str, error: impl std::fmt::Display) -> String {
        format!("{}: invalid {what}: {error}", self.connection.name)
    }
}

/// What one external connection offers for a package.
#[derive(Debug)]
pub struct Offer<D> {
    /// The repository owning the connection (where a pulled file is recorded first).
    pub owner: String,
    /// The connection's name.
    pub connection: String,
    /// What the format read from it.
    pub document: D,
}

/// What the external connections of a read offer, and the trouble to report.
#[derive(Debug)]
pub struct Offers<D> {
    /// Per connection that has the package, in the read's order.
    pub offers: Vec<Offer<D>>,
    /// Upstream trouble for the `x-lading-upstream` header (each note once).
    pub notes: Vec<String>,
    /// Whether any connection of the format was asked (a response built from upstream
    /// documents is not cached as if it came from the index alone).
    pub consulted: bool,
}

/// Ask every external connection of `A::FORMAT` among `externals` (`(owner, connection)`,
/// from [`packages::ReadSources`]) what it has, as `adapter` reads it.
pub async fn offers<A: UpstreamAdapter>(
    state: &AppState,
    externals: &packages::ExternalSources,
    adapter: &A,
) -> Offers<A::Document> {
    let mut found = Offers {
        offers: Vec::new(),
        notes: externals.notes.clone(),
        consulted: false,
    };
    let note = |notes: &mut Vec<String>, note: String| {
        if !notes.contains(&note) {
            notes.push(note);
        }
    };
    for (owner, name) in externals.iter() {
        let Some(connection) = state
            .externals
            .get(name)
            .filter(|connection| connection.format == A::FORMAT)
        else {
            continue;
        };
        found.consulted = true;
        let mut upstream = UpstreamReader {
            externals: &state.externals,
            connection,
            stale: false,
        };
        match adapter.read(&mut upstream).await {
            Ok(Some(document)) => {
                if upstream.stale {
                    note(
                        &mut found.notes,
                        format!("{name} unavailable; served from cache"),
                    );
                }
                found.offers.push(Offer {
                    owner: owner.clone(),
                    connection: name.clone(),
                    document,
                });
            }
            Ok(None) => {}
            Err(message) => note(&mut found.notes, message),
        }
    }
    found
}

/// The 404 of a read that found nothing anywhere it looked: `message`, why upstreams were
/// not asked when origin controls block them, and the upstream trouble met (`notes`).
#[must_use]
pub fn not_found(mut message: String, upstream_blocked: bool, notes: &[String]) -> DataError {
    if upstream_blocked {
        message.push_str(packages::BLOCKED_NOTE);
    }
    super::upstream::with_notes(DataError::not_found(message), notes)
}

/// The external connection `name`, which a listing named a moment ago.
///
/// # Errors
/// 404 when the server no longer has it.
pub fn connection<'a>(
    state: &'a AppState,
    name: &str,
) -> Result<&'a ExternalConnection, DataError> {
    state
        .externals
        .get(name)
        .ok_or_else(|| DataError::not_found(format!("external connection `{name}` is gone")))
}

/// The answer for upstream content that failed a check (`what`: the file, as a client
/// would name it); logged, and nothing was stored.
#[must_use]
pub fn refused(connection: &str, what: &str, message: &str) -> DataError {
    tracing::warn!(%connection, %message, "refused upstream content");
    DataError::new(
        StatusCode::BAD_GATEWAY,
        format!("refused {what} from {connection}: {message}; nothing was stored"),
    )
}

/// Download `url` from `connection` and check it against the digest the upstream claims
/// (`(algorithm, hex)`); no claim, a failed download or a mismatch is [`refused`].
///
/// # Errors
/// [`refused`].
pub async fn fetch_verified(
    state: &AppState,
    connection: &ExternalConnection,
    what: &str,
    url: &url::Url,
    claimed: Option<(&str, &str)>,
) -> Result<(Bytes, Digests), DataError> {
    state
        .externals
        .fetch_verified(connection, url, claimed)
        .await
        .map_err(|message| refused(&connection.name, what, &message))
}

/// Where a verified upstream file goes.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The package in the requesting repository.
    pub here: PackageKey,
    /// The repository owning the connection.
    pub owner: String,
    /// The connection's name.
    pub connection: String,
    /// The version it belongs to.
    pub version: String,
    /// Its file (asset) name.
    pub file: String,
    /// Version metadata, for a version seen for the first time.
    pub metadata: Option<String>,
}

/// Place verified upstream bytes in the blob store and record them (EXTERNAL origin, in the
/// repository owning the connection and in `here`) in one write transaction, with whatever
/// else the format records about the file (`also`, run in the same transaction).
///
/// # Errors
/// Store failures.
pub async fn store<F>(
    state: &AppState,
    pulled: Pulled,
    bytes: Bytes,
    digests: Digests,
    also: F,
) -> Result<AssetRow, DataError>
where
    F: FnOnce(
            &super::index::Connection,
            &PackageKey,
            &packages::Ingested,
        ) -> Result<(), super::index::Error>
        + Send
        + 'static,
{
    let asset = AssetRow {
        name: pulled.file.clone(),
        size: bytes.len() as u64,
        digests,
    };
    let _placed = state.store.put_blob(bytes).await?;
    let ingested = packages::Ingested {
        version: pulled.version,
        metadata: pulled.metadata,
        asset: asset.clone(),
        owner: pulled.owner,
        connection: pulled.connection.clone(),
        now: state.clock.now(),
    };
    let here = pulled.here;
    state
        .store
        .with(move |connection| -> Result<_, DataError> {
            let transaction = store::write_transaction(connection)?;
            packages::record_ingest(&transaction, &here, &ingested)?;
            also(&transaction, &here, &ingested)?;
            transaction.commit()?;
            Ok(())
        })
        .await?;
    tracing::info!(connection = %pulled.connection, file = %asset.name, "ingested from an external connection");
    Ok(asset)
}

/// [`store()`] for the formats whose version metadata lists each file's facts under
/// `files` (PyPI, RubyGems: several files to a version): a version seen for the first time
/// is recorded as `{name, version, files: {file: facts}}`, and a further file of a version
/// already held gets its `facts` added (in the repository owning the connection and in
/// `here`), unless it has them.
///
/// # Errors
/// Store failures.
pub async fn store_with_file_facts(
    state: &AppState,
    pulled: Pulled,
    name: &str,
    facts: serde_json::Value,
    bytes: Bytes,
    digests: Digests,
) -> Result<AssetRow, DataError> {
    let pulled = Pulled {
        metadata: Some(
            json!({
                "name": name,
                "version": pulled.version,
                "files": { &pulled.file: facts.clone() },
            })
            .to_string(),
        ),
        ..pulled
    };
    let file_name = pulled.file.clone();
    store(
        state,
        pulled,
        bytes,
        digests,
        move |transaction, here, ingested| {
            for repository in [&ingested.owner, &here.repository] {
                let key = PackageKey {
                    repository: repository.clone(),
                    ..here.clone()
                };
                if let Some(row) = store::version(transaction, &key, &ingested.version)? {
                    let mut document: serde_json::Value = row
                        .metadata
                        .as_deref()
                        .and_then(|text| serde_json::from_str(text).ok())
                        .filter(serde_json::Value::is_object)
                        .unwrap_or_else(|| json!({}));
                    if document["files"].get(&file_name).is_none() {
                        if !document["files"].is_object() {
                            document["files"] = json!({});
                        }
                        document["files"][&file_name] = facts.clone();
                        store::update_version_metadata(
                            transaction,
                            row.id,
                            &document.to_string(),
                            &row.revision,
                        )?;
                    }
                }
            }
            Ok(())
        },
    )
    .await
}

/// Retain `version` of the package `here` from the upstream repository `from` in `here`'s
/// repository, keeping the origin it has there.
///
/// # Errors
/// Store failures.
pub async fn retain(
    state: &AppState,
    from: &str,
    here: &PackageKey,
    version: &str,
) -> Result<(), DataError> {
    let from = PackageKey {
        repository: from.to_owned(),
        ..here.clone()
    };
    let (here, version) = (here.clone(), version.to_owned());
    state
        .store
        .with(move |connection| -> Result<_, DataError> {
            let transaction = store::write_transaction(connection)?;
            packages::retain_from_repository(&transaction, &from, &here, &version)?;
            transaction.commit()?;
            Ok(())
        })
        .await
}
