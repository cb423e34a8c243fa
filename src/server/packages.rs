//! Package-level state shared by every format: origin controls, repository upstreams,
//! external connections, and where each version came from.
//!
//! Origin controls follow CodeArtifact: a package's restrictions default from how its first
//! version arrived (published directly: publish ALLOW, upstream BLOCK; ingested from an
//! upstream or external connection: publish BLOCK, upstream ALLOW), and
//! `PutPackageOriginConfiguration` changes them. That default is what stops a dependency
//! confusion attack: once `@acme/internal` is published here, a same-named package on a
//! public registry is never pulled in.

use super::index::{self, Connection, OptionalExtension as _, params};

use super::access::{Permission, Principal};
use super::groups::{self, RestrictionType};
use super::store::{self, AssetRow, PackageKey, VersionRow};

/// `ALLOW` or `BLOCK`, as the API spells them.
pub const ALLOW: &str = "ALLOW";
/// `BLOCK`.
pub const BLOCK: &str = "BLOCK";

/// A package's origin restrictions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restrictions {
    /// Direct publishing: `ALLOW` or `BLOCK`.
    pub publish: String,
    /// Ingesting from upstreams and external connections: `ALLOW` or `BLOCK`.
    pub upstream: String,
}

impl Restrictions {
    /// What a package that was never configured nor published allows.
    #[must_use]
    pub fn unset() -> Self {
        Self {
            publish: ALLOW.to_owned(),
            upstream: ALLOW.to_owned(),
        }
    }

    /// `originConfiguration` JSON.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "restrictions": { "publish": self.publish, "upstream": self.upstream } })
    }
}

/// How a version arrived in a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `INTERNAL` (published into the domain) or `EXTERNAL` (from an external connection).
    pub origin_type: String,
    /// The repository through which it entered the domain.
    pub entry_repository: String,
    /// The external connection it came from, if any.
    pub external_connection: Option<String>,
}

/// A package's stored restrictions, if it has any.
///
/// # Errors
/// SQLite errors.
pub fn restrictions(
    connection: &Connection,
    key: &PackageKey,
) -> Result<Option<Restrictions>, index::Error> {
    connection
        .query_row(
            "SELECT publish, upstream FROM package_origins
             WHERE domain = ?1 AND repository = ?2 AND format = ?3 AND namespace = ?4 AND package = ?5",
            params![key.domain, key.repository, key.format, key.namespace, key.package],
            |row| Ok(Restrictions { publish: row.get(0)?, upstream: row.get(1)? }),
        )
        .optional()
}

/// The restrictions in force (stored, or [`Restrictions::unset`]).
///
/// # Errors
/// SQLite errors.
pub fn effective_restrictions(
    connection: &Connection,
    key: &PackageKey,
) -> Result<Restrictions, index::Error> {
    Ok(restrictions(connection, key)?.unwrap_or_else(Restrictions::unset))
}

/// Store restrictions (creating the package record if needed).
///
/// # Errors
/// SQLite errors.
pub fn set_restrictions(
    connection: &Connection,
    key: &PackageKey,
    restrictions: &Restrictions,
) -> Result<(), index::Error> {
    connection.execute(
        "INSERT INTO package_origins (domain, repository, format, namespace, package, publish, upstream)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (domain, repository, format, namespace, package)
         DO UPDATE SET publish = excluded.publish, upstream = excluded.upstream",
        params![key.domain, key.repository, key.format, key.namespace, key.package, restrictions.publish, restrictions.upstream],
    )?;
    Ok(())
}

/// Remove a package's record (used by `DeletePackage`).
///
/// # Errors
/// SQLite errors.
pub fn delete_restrictions(connection: &Connection, key: &PackageKey) -> Result<(), index::Error> {
    connection.execute(
        "DELETE FROM package_origins WHERE domain = ?1 AND repository = ?2 AND format = ?3 AND namespace = ?4 AND package = ?5",
        params![key.domain, key.repository, key.format, key.namespace, key.package],
    )?;
    Ok(())
}

/// Why a direct publish was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    /// The package's origin controls block direct publishing.
    #[error(
        "publishing is blocked for this package by its origin controls (publish=BLOCK); change them with PutPackageOriginConfiguration"
    )]
    Blocked,
    /// The package's package group does not allow publishing it here (the reason, naming
    /// the group and its setting).
    #[error(
        "publishing is refused: {0}; an administrator can change that with UpdatePackageGroupOriginConfiguration (`aws codeartifact update-package-group-origin-configuration`)"
    )]
    Group(String),
    /// SQLite failed.
    #[error(transparent)]
    Sqlite(#[from] index::Error),
}

impl AdmitError {
    /// A refusal as a data plane's client is told it (with 403), naming `package` as the
    /// client spells it; `Err` for a SQLite failure, which is no refusal.
    ///
    /// # Errors
    /// [`AdmitError::Sqlite`]'s error.
    pub fn refusal(self, package: &str) -> Result<String, index::Error> {
        match self {
            Self::Blocked => Ok(format!(
                "publishing {package} is blocked by its package origin configuration (publish=BLOCK)"
            )),
            error @ Self::Group(_) => Ok(format!("{package}: {error}")),
            Self::Sqlite(error) => Err(error),
        }
    }
}

/// Admit a direct publish of `key`: refuse when its origin controls or its package group's
/// `PUBLISH` restriction block it, and record the CodeArtifact defaults (publish ALLOW,
/// upstream BLOCK) for a package seen for the first time. Call inside the publishing
/// transaction, before inserting the version.
///
/// # Errors
/// [`AdmitError::Blocked`], [`AdmitError::Group`] or SQLite errors.
pub fn admit_publish(connection: &Connection, key: &PackageKey) -> Result<(), AdmitError> {
    let existing = restrictions(connection, key)?;
    if existing
        .as_ref()
        .is_some_and(|restrictions| restrictions.publish == BLOCK)
    {
        return Err(AdmitError::Blocked);
    }
    if let Some(reason) =
        groups::refusal(connection, key, RestrictionType::Publish, &key.repository)?
    {
        return Err(AdmitError::Group(reason));
    }
    if existing.is_none() {
        set_restrictions(
            connection,
            key,
            &Restrictions {
                publish: ALLOW.to_owned(),
                upstream: BLOCK.to_owned(),
            },
        )?;
    }
    Ok(())
}

/// Record the defaults for a package first seen through an upstream (publish BLOCK,
/// upstream ALLOW), unless it already has restrictions.
///
/// # Errors
/// SQLite errors.
pub fn note_ingest(connection: &Connection, key: &PackageKey) -> Result<(), index::Error> {
    if restrictions(connection, key)?.is_none() {
        set_restrictions(
            connection,
            key,
            &Restrictions {
                publish: BLOCK.to_owned(),
                upstream: ALLOW.to_owned(),
            },
        )?;
    }
    Ok(())
}

/// Whether the package has a record (versions or origin configuration) in the repository.
///
/// # Errors
/// SQLite errors.
pub fn package_exists(connection: &Connection, key: &PackageKey) -> Result<bool, index::Error> {
    Ok(restrictions(connection, key)?.is_some() || !store::versions(connection, key)?.is_empty())
}

/// Packages that have an origin record but no versions, for `ListPackages`.
///
/// # Errors
/// SQLite errors.
pub fn configured_packages(
    connection: &Connection,
    domain: &str,
    repository: &str,
) -> Result<Vec<store::PackageSummary>, index::Error> {
    connection.query_map("SELECT format, namespace, package FROM package_origins WHERE domain = ?1 AND repository = ?2 ORDER BY format, namespace, package", params![domain, repository], |row| {
        Ok(store::PackageSummary {
            format: row.get(0)?,
            namespace: row.get(1)?,
            package: row.get(2)?,
        })
    })
}

/// A repository's upstreams, in search order.
///
/// # Errors
/// SQLite errors.
pub fn upstreams(
    connection: &Connection,
    domain: &str,
    repository: &str,
) -> Result<Vec<String>, index::Error> {
    connection.query_map(
        "SELECT upstream FROM upstreams WHERE domain = ?1 AND repository = ?2 ORDER BY position",
        params![domain, repository],
        |row| row.get(0),
    )
}

/// Replace a repository's upstreams.
///
/// # Errors
/// SQLite errors.
pub fn set_upstreams(
    connection: &Connection,
    domain: &str,
    repository: &str,
    upstreams: &[String],
) -> Result<(), index::Error> {
    connection.execute(
        "DELETE FROM upstreams WHERE domain = ?1 AND repository = ?2",
        params![domain, repository],
    )?;
    for (position, upstream) in upstreams.iter().enumerate() {
        connection.execute(
            "INSERT INTO upstreams (domain, repository, position, upstream) VALUES (?1, ?2, ?3, ?4)",
            params![domain, repository, i64::try_from(position).unwrap_or(i64::MAX), upstream],
        )?;
    }
    Ok(())
}

/// The repositories a read of `repository` searches, in CodeArtifact's order: the repository
/// itself, then each upstream depth-first in configured order, each visited once.
///
/// # Errors
/// SQLite errors.
pub fn search_order(
    connection: &Connection,
    domain: &str,
    repository: &str,
) -> Result<Vec<String>, index::Error> {
    let mut order = Vec::new();
    let mut stack = vec![repository.to_owned()];
    while let Some(current) = stack.pop() {
        if order.contains(&current) {
            continue;
        }
        let next = upstreams(connection, domain, &current)?;
        order.push(current);
        for upstream in next.into_iter().rev() {
            stack.push(upstream);
        }
    }
    Ok(order)
}

/// A repository's external connections.
///
/// # Errors
/// SQLite errors.
pub fn external_connections(
    connection: &Connection,
    domain: &str,
    repository: &str,
) -> Result<Vec<String>, index::Error> {
    connection.query_map("SELECT connection FROM external_links WHERE domain = ?1 AND repository = ?2 ORDER BY connection", params![domain, repository], |row| row.get(0))
}

/// Attach (`true`) or detach an external connection.
///
/// # Errors
/// SQLite errors.
pub fn link_external(
    connection: &Connection,
    domain: &str,
    repository: &str,
    name: &str,
    attach: bool,
) -> Result<bool, index::Error> {
    let changed = if attach {
        connection.execute("INSERT INTO external_links (domain, repository, connection) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING", params![domain, repository, name])?
    } else {
        connection.execute(
            "DELETE FROM external_links WHERE domain = ?1 AND repository = ?2 AND connection = ?3",
            params![domain, repository, name],
        )?
    };
    Ok(changed == 1)
}

/// Where a version came from (`None`: published here, before origins were recorded).
///
/// # Errors
/// SQLite errors.
pub fn version_origin(
    connection: &Connection,
    version_id: i64,
) -> Result<Option<Origin>, index::Error> {
    connection
        .query_row(
            "SELECT origin_type, entry_repository, external_connection FROM version_origins WHERE version_id = ?1",
            [version_id],
            |row| Ok(Origin { origin_type: row.get(0)?, entry_repository: row.get(1)?, external_connection: row.get(2)? }),
        )
        .optional()
}

/// Record where a version came from.
///
/// # Errors
/// SQLite errors.
pub fn set_version_origin(
    connection: &Connection,
    version_id: i64,
    origin: &Origin,
) -> Result<(), index::Error> {
    connection.execute(
        "INSERT INTO version_origins (version_id, origin_type, entry_repository, external_connection) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (version_id) DO UPDATE SET origin_type = excluded.origin_type, entry_repository = excluded.entry_repository, external_connection = excluded.external_connection",
        params![version_id, origin.origin_type, origin.entry_repository, origin.external_connection],
    )?;
    Ok(())
}

/// Copy a version (row, assets, origin) from one repository into another, as CodeArtifact
/// retains a version in the downstream repository it was requested through. The blobs are
/// shared (content-addressed). Returns the new row; a version already present is returned as is.
///
/// # Errors
/// SQLite errors.
pub fn retain_version(
    connection: &Connection,
    from: &PackageKey,
    to: &PackageKey,
    version: &str,
    origin: &Origin,
) -> Result<Option<VersionRow>, index::Error> {
    let Some(source) = store::version(connection, from, version)? else {
        return store::version(connection, to, version);
    };
    if let Some(existing) = store::version(connection, to, version)? {
        // A version can gain files upstream (a PyPI sdist after its wheel): copy the new ones.
        let present = store::assets(connection, existing.id)?;
        for asset in store::assets(connection, source.id)? {
            if !present.iter().any(|held| held.name == asset.name) {
                store::insert_asset(connection, existing.id, &asset)?;
            }
        }
        return Ok(Some(existing));
    }
    let assets = store::assets(connection, source.id)?;
    let mut row = VersionRow {
        id: 0,
        revision: source.revision.clone(),
        ..source
    };
    row.id = store::insert_version(connection, to, &row)?;
    for asset in &assets {
        store::insert_asset(connection, row.id, asset)?;
    }
    set_version_origin(connection, row.id, origin)?;
    note_ingest(connection, to)?;
    Ok(Some(row))
}

/// What a "not found" message says when a package's origin controls kept upstreams out.
pub const BLOCKED_NOTE: &str =
    " (its origin controls block fetching it from upstreams: upstream=BLOCK)";

/// The external connections a read consults, `(owning repository, connection name)` in
/// the read's order (it derefs to that list), and why others, or upstream repositories,
/// were left out by a package group: [`super::pull_through::offers`] reports those notes
/// with what the connections say, in the `x-lading-upstream` header and in a 404's message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalSources {
    /// `(owning repository, connection name)`.
    pub connections: Vec<(String, String)>,
    /// Why sources were not consulted (package group restrictions).
    pub notes: Vec<String>,
}

impl std::ops::Deref for ExternalSources {
    type Target = Vec<(String, String)>;

    fn deref(&self) -> &Self::Target {
        &self.connections
    }
}

impl std::ops::DerefMut for ExternalSources {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.connections
    }
}

impl IntoIterator for ExternalSources {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.connections.into_iter()
    }
}

impl PartialEq<Vec<(String, String)>> for ExternalSources {
    fn eq(&self, other: &Vec<(String, String)>) -> bool {
        &self.connections == other
    }
}

/// Record the new version `row` of `key` with its one `asset`, in one write transaction,
/// unless the version exists (`Ok(Err(None))`) or [`admit_publish`] refuses it
/// (`Ok(Err(Some(why)))`, `why` to follow "publishing PACKAGE ": "is blocked by …",
/// "failed: …"). For the planes whose publish is one file making one version (NuGet,
/// Swift).
///
/// # Errors
/// SQLite errors.
pub fn publish_new_version(
    connection: &mut Connection,
    key: &PackageKey,
    row: &VersionRow,
    asset: &AssetRow,
) -> Result<Result<(), Option<String>>, index::Error> {
    let transaction = store::write_transaction(connection)?;
    if store::version(&transaction, key, &row.version)?.is_some() {
        return Ok(Err(None));
    }
    match admit_publish(&transaction, key) {
        Ok(()) => {}
        Err(AdmitError::Blocked) => {
            return Ok(Err(Some(
                "is blocked by its package origin configuration (publish=BLOCK)".to_owned(),
            )));
        }
        Err(error @ AdmitError::Group(_)) => {
            return Ok(Err(Some(format!("failed: {error}"))));
        }
        Err(AdmitError::Sqlite(error)) => return Err(error),
    }
    let id = store::insert_version(&transaction, key, row)?;
    store::insert_asset(&transaction, id, asset)?;
    transaction.commit()?;
    Ok(Ok(()))
}

/// Where a read of one package in a repository may look, in CodeArtifact's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSources {
    /// The repository itself, then (unless the package's origin controls or its package
    /// group's `INTERNAL_UPSTREAM` block upstreams) its upstream repositories depth-first.
    pub repositories: Vec<String>,
    /// Every external connection to consult, skipping repositories whose copy of the
    /// package blocks upstreams and those the package group's `EXTERNAL_UPSTREAM` does not
    /// allow to ingest it.
    pub externals: ExternalSources,
    /// Whether the package's origin controls in the requested repository block upstreams.
    pub upstream_blocked: bool,
}

impl ReadSources {
    /// Every version of `lookup`'s package held in [`Self::repositories`], in their order
    /// (the repository itself first), each with the repository holding it: what a read
    /// serves before it asks the external connections. The same version may come from
    /// several repositories; the format decides which copy it serves.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn held_versions(
        &self,
        connection: &Connection,
        lookup: &PackageKey,
    ) -> Result<Vec<(String, VersionRow)>, index::Error> {
        let mut held = Vec::new();
        for repository in &self.repositories {
            let key = PackageKey {
                repository: repository.clone(),
                ..lookup.clone()
            };
            for row in store::versions(connection, &key)? {
                held.push((repository.clone(), row));
            }
        }
        Ok(held)
    }

    /// The suffix a "not found" message gets when upstreams were not consulted.
    #[must_use]
    pub fn blocked_note(&self) -> &'static str {
        if self.upstream_blocked {
            BLOCKED_NOTE
        } else {
            ""
        }
    }
}

/// The repositories and external connections a read of `key` consults.
///
/// # Errors
/// SQLite errors.
pub fn read_sources(
    connection: &Connection,
    key: &PackageKey,
    reader: Option<&Principal>,
) -> Result<ReadSources, index::Error> {
    let mut sources = all_read_sources(connection, key)?;
    upstream_chain_readable(&mut sources, reader, &key.domain);
    Ok(sources)
}

/// Narrow a read's sources to what `reader` may read: an upstream repository it has no
/// `read` grant on is skipped, and so are the external connections that repository owns
/// (fetching through one would write into it). Checked on every read, not only when the
/// upstream was associated, because grants change after the association; without it, a
/// principal who administers repository A could read repository B by making B an upstream
/// of A. The requested repository itself (first) was authorized by the caller.
pub fn upstream_chain_readable(
    sources: &mut ReadSources,
    reader: Option<&Principal>,
    domain: &str,
) {
    let readable = |repository: &str| {
        reader.is_some_and(|reader| reader.allows(domain, Some(repository), Permission::Read))
    };
    let requested = sources.repositories.first().cloned();
    sources
        .repositories
        .retain(|repository| Some(repository) == requested.as_ref() || readable(repository));
    sources
        .externals
        .retain(|(owner, _)| Some(owner) == requested.as_ref() || readable(owner));
}

/// [`read_sources`] before [`upstream_chain_readable`].
fn all_read_sources(
    connection: &Connection,
    key: &PackageKey,
) -> Result<ReadSources, index::Error> {
    let order = search_order(connection, &key.domain, &key.repository)?;
    let restrictions = effective_restrictions(connection, key)?;
    let upstream_blocked = restrictions.upstream == BLOCK;
    let mut sources = ReadSources {
        repositories: Vec::new(),
        externals: ExternalSources::default(),
        upstream_blocked,
    };
    if upstream_blocked {
        sources.repositories.push(key.repository.clone());
        return Ok(sources);
    }
    let groups = groups::Groups::load(connection, &key.domain)?;
    for (index, repository) in order.into_iter().enumerate() {
        if index == 1
            && let Some(reason) = groups.refusal(
                connection,
                key,
                RestrictionType::InternalUpstream,
                &key.repository,
            )?
        {
            sources
                .externals
                .notes
                .push(format!("upstream repositories not consulted: {reason}"));
            break;
        }
        let repository_key = PackageKey {
            repository: repository.clone(),
            ..key.clone()
        };
        if effective_restrictions(connection, &repository_key)?.upstream == ALLOW {
            let names = external_connections(connection, &key.domain, &repository)?;
            if !names.is_empty() {
                match groups.refusal(
                    connection,
                    key,
                    RestrictionType::ExternalUpstream,
                    &repository,
                )? {
                    Some(reason) => sources
                        .externals
                        .notes
                        .push(format!("{} not consulted: {reason}", names.join(", "))),
                    None => {
                        for name in names {
                            sources.externals.push((repository.clone(), name));
                        }
                    }
                }
            }
        }
        sources.repositories.push(repository);
    }
    Ok(sources)
}

/// Retain `version` of `from` (an upstream repository) in `to`, keeping the origin it had
/// there (a version without one entered the domain by a publish to `from`).
///
/// # Errors
/// SQLite errors.
pub fn retain_from_repository(
    connection: &Connection,
    from: &PackageKey,
    to: &PackageKey,
    version: &str,
) -> Result<Option<VersionRow>, index::Error> {
    let origin = match store::version(connection, from, version)? {
        Some(row) => version_origin(connection, row.id)?,
        None => return Ok(None),
    }
    .unwrap_or_else(|| Origin {
        origin_type: "INTERNAL".to_owned(),
        entry_repository: from.repository.clone(),
        external_connection: None,
    });
    retain_version(connection, from, to, version, &origin)
}

/// A file fetched from an external connection and verified, ready to record.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// Version it belongs to.
    pub version: String,
    /// Version metadata for a version seen for the first time.
    pub metadata: Option<String>,
    /// The verified file (its blob already stored).
    pub asset: AssetRow,
    /// The repository owning the external connection.
    pub owner: String,
    /// The external connection's name.
    pub connection: String,
    /// When it arrived.
    pub now: f64,
}

/// Record a verified file from an external connection: as a `Published` version (with
/// EXTERNAL origin) of the package in the repository owning the connection, then retained in
/// the requesting repository `here`, as CodeArtifact does. A file already present is kept.
/// Call inside a write transaction.
///
/// # Errors
/// SQLite errors.
pub fn record_ingest(
    connection: &Connection,
    here: &PackageKey,
    ingested: &Ingested,
) -> Result<(), index::Error> {
    let owner = PackageKey {
        repository: ingested.owner.clone(),
        ..here.clone()
    };
    let origin = Origin {
        origin_type: "EXTERNAL".to_owned(),
        entry_repository: ingested.owner.clone(),
        external_connection: Some(ingested.connection.clone()),
    };
    let id = if let Some(row) = store::version(connection, &owner, &ingested.version)? {
        row.id
    } else {
        let row = VersionRow {
            id: 0,
            version: ingested.version.clone(),
            revision: store::new_revision(),
            status: "Published".to_owned(),
            published: ingested.now,
            metadata: ingested.metadata.clone(),
        };
        let id = store::insert_version(connection, &owner, &row)?;
        set_version_origin(connection, id, &origin)?;
        id
    };
    if !store::assets(connection, id)?
        .iter()
        .any(|asset| asset.name == ingested.asset.name)
    {
        store::insert_asset(connection, id, &ingested.asset)?;
    }
    note_ingest(connection, &owner)?;
    if owner.repository != here.repository {
        retain_version(connection, &owner, here, &ingested.version, &origin)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        store::Store::open(dir.path()).unwrap();
        let connection = Connection::open_sqlite(&dir.path().join("index-v1.sqlite3")).unwrap();
        (dir, connection)
    }

    fn key(repository: &str) -> PackageKey {
        PackageKey {
            domain: "d".into(),
            repository: repository.into(),
            format: "npm".into(),
            namespace: String::new(),
            package: "p".into(),
        }
    }

    #[test]
    fn first_publish_blocks_upstream_and_block_refuses_publish() {
        let (_dir, connection) = open();
        admit_publish(&connection, &key("r")).unwrap();
        assert_eq!(
            restrictions(&connection, &key("r")).unwrap(),
            Some(Restrictions {
                publish: ALLOW.into(),
                upstream: BLOCK.into()
            })
        );
        set_restrictions(
            &connection,
            &key("r"),
            &Restrictions {
                publish: BLOCK.into(),
                upstream: ALLOW.into(),
            },
        )
        .unwrap();
        assert!(matches!(
            admit_publish(&connection, &key("r")),
            Err(AdmitError::Blocked)
        ));
        note_ingest(&connection, &key("other")).unwrap();
        assert_eq!(
            restrictions(&connection, &key("other"))
                .unwrap()
                .unwrap()
                .publish,
            BLOCK
        );
    }

    fn reader(repositories: &[&str]) -> Principal {
        Principal {
            name: "reader".into(),
            access_key_id: "K".into(),
            secret_access_key: crate::secret::Secret::new("s".into()),
            policies: std::sync::Arc::default(),
            grants: repositories
                .iter()
                .map(|repository| super::super::access::Grant {
                    domain: "d".into(),
                    repository: (*repository).into(),
                    permissions: vec![Permission::Read],
                })
                .collect(),
        }
    }

    #[test]
    fn reads_through_upstreams_skip_repositories_the_reader_may_not_read() {
        let (_dir, connection) = open();
        set_upstreams(&connection, "d", "team", &["secret".into(), "main".into()]).unwrap();
        link_external(&connection, "d", "secret", "public:npmjs", true).unwrap();
        link_external(&connection, "d", "main", "public:pypi", true).unwrap();
        let everything = read_sources(&connection, &key("team"), Some(&reader(&["*"]))).unwrap();
        assert_eq!(everything.repositories, vec!["team", "secret", "main"]);
        assert_eq!(everything.externals.len(), 2);
        let narrowed =
            read_sources(&connection, &key("team"), Some(&reader(&["team", "main"]))).unwrap();
        assert_eq!(narrowed.repositories, vec!["team", "main"]);
        assert_eq!(
            narrowed.externals,
            vec![("main".to_owned(), "public:pypi".to_owned())]
        );
        let anonymous = read_sources(&connection, &key("team"), None).unwrap();
        assert_eq!(anonymous.repositories, vec!["team"]);
    }

    fn asset(name: &str) -> AssetRow {
        AssetRow {
            name: name.into(),
            size: 1,
            digests: crate::archive::Digests::of(name.as_bytes()),
        }
    }

    #[test]
    fn ingest_records_external_origin_and_retains_every_file_downstream() {
        let (_dir, connection) = open();
        set_upstreams(&connection, "d", "team", &["main".into()]).unwrap();
        link_external(&connection, "d", "main", "public:pypi", true).unwrap();
        let sources = read_sources(&connection, &key("team"), Some(&reader(&["*"]))).unwrap();
        assert_eq!(sources.repositories, vec!["team", "main"]);
        assert_eq!(
            sources.externals,
            vec![("main".to_owned(), "public:pypi".to_owned())]
        );
        let mut ingested = Ingested {
            version: "1.0".into(),
            metadata: None,
            asset: asset("p-1.0.whl"),
            owner: "main".into(),
            connection: "public:pypi".into(),
            now: 1.0,
        };
        record_ingest(&connection, &key("team"), &ingested).unwrap();
        ingested.asset = asset("p-1.0.tar.gz");
        record_ingest(&connection, &key("team"), &ingested).unwrap();
        for repository in ["main", "team"] {
            let row = store::version(&connection, &key(repository), "1.0")
                .unwrap()
                .unwrap();
            assert_eq!(
                store::assets(&connection, row.id).unwrap().len(),
                2,
                "{repository}"
            );
            let origin = version_origin(&connection, row.id).unwrap().unwrap();
            assert_eq!(origin.origin_type, "EXTERNAL");
            assert_eq!(origin.entry_repository, "main");
            assert_eq!(
                restrictions(&connection, &key(repository))
                    .unwrap()
                    .unwrap()
                    .publish,
                BLOCK
            );
        }
        // A package that blocks upstreams reads only its own repository.
        set_restrictions(
            &connection,
            &key("team"),
            &Restrictions {
                publish: ALLOW.into(),
                upstream: BLOCK.into(),
            },
        )
        .unwrap();
        let sources = read_sources(&connection, &key("team"), Some(&reader(&["*"]))).unwrap();
        assert_eq!(sources.repositories, vec!["team"]);
        assert!(sources.externals.is_empty() && sources.upstream_blocked);
    }

    #[test]
    fn package_groups_narrow_publishing_and_reads_through_upstreams() {
        let (_dir, connection) = open();
        set_upstreams(&connection, "d", "team", &["main".into()]).unwrap();
        link_external(&connection, "d", "main", "public:npmjs", true).unwrap();
        let mut group = groups::root_row("d", 0.0);
        group.pattern = "/npm//p$".into();
        RestrictionType::ExternalUpstream.set_mode(&mut group, groups::Mode::Block);
        RestrictionType::InternalUpstream
            .set_mode(&mut group, groups::Mode::AllowSpecificRepositories);
        RestrictionType::Publish.set_mode(&mut group, groups::Mode::Inherit);
        store::put_package_group(&connection, &group).unwrap();
        let everyone = reader(&["*"]);
        let sources = read_sources(&connection, &key("team"), Some(&everyone)).unwrap();
        assert_eq!(sources.repositories, vec!["team"]);
        assert!(sources.externals.is_empty());
        assert!(
            sources.externals.notes[0].contains("INTERNAL_UPSTREAM"),
            "{sources:?}"
        );
        store::set_package_group_repository(
            &connection,
            "d",
            "/npm//p$",
            "INTERNAL_UPSTREAM",
            "team",
            true,
        )
        .unwrap();
        let sources = read_sources(&connection, &key("team"), Some(&everyone)).unwrap();
        assert_eq!(sources.repositories, vec!["team", "main"]);
        assert!(sources.externals.is_empty());
        assert!(
            sources.externals.notes[0].starts_with(
                "public:npmjs not consulted: package group `/npm//p$` blocks EXTERNAL_UPSTREAM"
            ),
            "{sources:?}"
        );
        // PUBLISH inherits the root's ALLOW; a variation of the name is blocked outright.
        admit_publish(&connection, &key("team")).unwrap();
        let variation = PackageKey {
            package: "P".into(),
            ..key("team")
        };
        assert!(matches!(
            admit_publish(&connection, &variation),
            Err(AdmitError::Group(reason)) if reason.contains("only weakly matches")
        ));
    }

    #[test]
    fn search_order_is_depth_first_and_visits_once() {
        let (_dir, connection) = open();
        set_upstreams(&connection, "d", "a", &["b".into(), "c".into()]).unwrap();
        set_upstreams(&connection, "d", "b", &["d1".into(), "c".into()]).unwrap();
        set_upstreams(&connection, "d", "c", &["a".into()]).unwrap();
        assert_eq!(
            search_order(&connection, "d", "a").unwrap(),
            vec!["a", "b", "d1", "c"]
        );
    }
}
