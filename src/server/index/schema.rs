//! The index schema, as versioned migrations applied when a store opens.
//!
//! Each [`Migration`] is written once, in SQL both engines take (PostgreSQL gets it through
//! [`for_postgres`]). `schema_migrations` records which ones a database has. [`migrate`]
//! applies the missing ones in order, each in its own transaction, under a lock: SQLite's
//! write lock, or on PostgreSQL the session advisory lock [`super::pg::MIGRATION_LOCK`],
//! so several nodes starting together against a fresh database apply each migration once
//! (the others wait, then find it applied). Migration 1 is the schema every index had
//! before migrations were recorded (each statement `IF NOT EXISTS`), so an existing SQLite
//! data directory takes it as a no-op and records it.
//!
//! Adding a migration: append it to [`MIGRATIONS`] with the next version; never edit one
//! that has shipped.

use super::{Connection, Dialect, Error, OptionalExtension as _, params};

/// One schema change.
#[derive(Debug)]
pub struct Migration {
    /// Its number: 1, 2, ... in order.
    pub version: i64,
    /// What it does, recorded with it.
    pub name: &'static str,
    /// The statements.
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "the index as lading 0.1 created it",
    sql: SCHEMA_V1,
}];

const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied DOUBLE PRECISION NOT NULL
)";

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS principals (
    access_key_id TEXT PRIMARY KEY,
    secret_access_key TEXT NOT NULL,
    name TEXT NOT NULL,
    grants TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS domains (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created REAL NOT NULL,
    encryption_key TEXT
);
CREATE TABLE IF NOT EXISTS repositories (
    domain TEXT NOT NULL REFERENCES domains(name),
    name TEXT NOT NULL,
    description TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (domain, name)
);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    domain TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY,
    domain TEXT NOT NULL,
    repository TEXT NOT NULL,
    format TEXT NOT NULL,
    namespace TEXT NOT NULL,
    package TEXT NOT NULL,
    version TEXT NOT NULL,
    revision TEXT NOT NULL,
    status TEXT NOT NULL,
    published REAL NOT NULL,
    metadata TEXT,
    UNIQUE (domain, repository, format, namespace, package, version)
);
CREATE TABLE IF NOT EXISTS assets (
    version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    md5 TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    sha512 TEXT NOT NULL,
    PRIMARY KEY (version_id, name)
);
CREATE INDEX IF NOT EXISTS assets_by_sha256 ON assets (sha256);
CREATE TABLE IF NOT EXISTS upstreams (
    domain TEXT NOT NULL,
    repository TEXT NOT NULL,
    position INTEGER NOT NULL,
    upstream TEXT NOT NULL,
    PRIMARY KEY (domain, repository, position)
);
CREATE TABLE IF NOT EXISTS external_links (
    domain TEXT NOT NULL,
    repository TEXT NOT NULL,
    connection TEXT NOT NULL,
    PRIMARY KEY (domain, repository, connection)
);
CREATE TABLE IF NOT EXISTS package_origins (
    domain TEXT NOT NULL,
    repository TEXT NOT NULL,
    format TEXT NOT NULL,
    namespace TEXT NOT NULL,
    package TEXT NOT NULL,
    publish TEXT NOT NULL,
    upstream TEXT NOT NULL,
    PRIMARY KEY (domain, repository, format, namespace, package)
);
CREATE TABLE IF NOT EXISTS version_origins (
    version_id INTEGER PRIMARY KEY REFERENCES versions(id) ON DELETE CASCADE,
    origin_type TEXT NOT NULL,
    entry_repository TEXT NOT NULL,
    external_connection TEXT
);
CREATE TABLE IF NOT EXISTS dist_tags (
    domain TEXT NOT NULL,
    repository TEXT NOT NULL,
    format TEXT NOT NULL,
    namespace TEXT NOT NULL,
    package TEXT NOT NULL,
    tag TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (domain, repository, format, namespace, package, tag)
);
CREATE TABLE IF NOT EXISTS resource_tags (
    resource TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (resource, key)
);
CREATE TABLE IF NOT EXISTS permission_policies (
    domain TEXT NOT NULL,
    repository TEXT NOT NULL,
    document TEXT NOT NULL,
    revision TEXT NOT NULL,
    PRIMARY KEY (domain, repository)
);
CREATE TABLE IF NOT EXISTS package_groups (
    domain TEXT NOT NULL,
    pattern TEXT NOT NULL,
    description TEXT,
    contact_info TEXT,
    created REAL NOT NULL,
    publish TEXT NOT NULL,
    external_upstream TEXT NOT NULL,
    internal_upstream TEXT NOT NULL,
    PRIMARY KEY (domain, pattern)
);
CREATE TABLE IF NOT EXISTS package_group_repositories (
    domain TEXT NOT NULL,
    pattern TEXT NOT NULL,
    restriction TEXT NOT NULL,
    repository TEXT NOT NULL,
    PRIMARY KEY (domain, pattern, restriction, repository)
);
";

/// A migration's SQL as PostgreSQL takes it: SQLite's 8-byte `REAL` is `DOUBLE PRECISION`,
/// its `INTEGER` is `BIGINT`, and the rowid key `versions.id` an identity column.
#[must_use]
pub fn for_postgres(sql: &str) -> String {
    sql.replace(
        "(\n    id INTEGER PRIMARY KEY,",
        "(\n    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,",
    )
    .replace(" REAL", " DOUBLE PRECISION")
    .replace(" INTEGER", " BIGINT")
}

/// Apply the migrations `connection`'s database lacks (see the module docs).
///
/// # Errors
/// Database errors; nothing of a failed migration stays.
pub fn migrate(connection: &mut Connection) -> Result<(), Error> {
    match connection.dialect() {
        Dialect::Sqlite => {
            let transaction = connection.write_transaction()?;
            transaction.execute_batch(MIGRATIONS_TABLE)?;
            for migration in missing(&transaction)? {
                transaction.execute_batch(migration.sql)?;
                if migration.version == 1 {
                    add_format_to_dist_tags(&transaction)?;
                }
                record(&transaction, migration)?;
            }
            transaction.commit()
        }
        Dialect::Postgres => {
            connection.execute_batch(&format!(
                "SELECT pg_advisory_lock({})",
                super::pg::MIGRATION_LOCK
            ))?;
            let applied = apply_postgres(connection);
            let unlocked = connection.execute_batch(&format!(
                "SELECT pg_advisory_unlock({})",
                super::pg::MIGRATION_LOCK
            ));
            applied.and(unlocked)
        }
    }
}

fn apply_postgres(connection: &mut Connection) -> Result<(), Error> {
    connection.execute_batch(MIGRATIONS_TABLE)?;
    for migration in missing(connection)? {
        let transaction = connection.migration_transaction()?;
        transaction.execute_batch(&for_postgres(migration.sql))?;
        record(&transaction, migration)?;
        transaction.commit()?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied an index migration"
        );
    }
    Ok(())
}

/// The migrations not recorded yet; warns about recorded ones this lading does not know (a
/// newer lading migrated the database: this one keeps working on what it knows).
fn missing(connection: &Connection) -> Result<Vec<&'static Migration>, Error> {
    let applied: Vec<i64> =
        connection.query_map("SELECT version FROM schema_migrations", (), |row| {
            row.get(0)
        })?;
    let newest = MIGRATIONS.last().map_or(0, |migration| migration.version);
    if let Some(newer) = applied.iter().find(|version| **version > newest) {
        tracing::warn!(
            version = newer,
            "the index has a migration this lading does not know (a newer lading applied it)"
        );
    }
    Ok(MIGRATIONS
        .iter()
        .filter(|migration| !applied.contains(&migration.version))
        .collect())
}

fn record(connection: &Connection, migration: &Migration) -> Result<(), Error> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64());
    connection.execute(
        "INSERT INTO schema_migrations (version, name, applied) VALUES (?1, ?2, ?3)",
        params![migration.version, migration.name, now],
    )?;
    Ok(())
}

/// The versions recorded in `schema_migrations`, in order.
///
/// # Errors
/// Database errors.
pub fn applied(connection: &Connection) -> Result<Vec<i64>, Error> {
    connection.query_map(
        "SELECT version FROM schema_migrations ORDER BY version",
        (),
        |row| row.get(0),
    )
}

/// An SQLite index whose `dist_tags` predates the `format` column (then every tag was an
/// npm one) gets it: package state is keyed by format everywhere, so a generic package never
/// touches the tags of an npm package with the same namespace and name.
fn add_format_to_dist_tags(connection: &Connection) -> Result<(), Error> {
    let has_format = connection
        .query_row(
            "SELECT 1 FROM pragma_table_info('dist_tags') WHERE name = 'format'",
            (),
            |row| row.get::<i64>(0),
        )
        .optional()?
        .is_some();
    if !has_format {
        connection.execute_batch(
            "ALTER TABLE dist_tags RENAME TO dist_tags_without_format;
             CREATE TABLE dist_tags (
                 domain TEXT NOT NULL,
                 repository TEXT NOT NULL,
                 format TEXT NOT NULL,
                 namespace TEXT NOT NULL,
                 package TEXT NOT NULL,
                 tag TEXT NOT NULL,
                 version TEXT NOT NULL,
                 PRIMARY KEY (domain, repository, format, namespace, package, tag)
             );
             INSERT INTO dist_tags (domain, repository, format, namespace, package, tag, version)
                 SELECT domain, repository, 'npm', namespace, package, tag, version
                 FROM dist_tags_without_format;
             DROP TABLE dist_tags_without_format;",
        )?;
    }
    Ok(())
}

/// Every table of the current schema with its columns, parents before children (the order
/// `lading serve migrate --index` copies them in). `schema_migrations` is not copied: the
/// target applies its own.
pub const TABLES: &[(&str, &[&str])] = &[
    (
        "principals",
        &["access_key_id", "secret_access_key", "name", "grants"],
    ),
    ("domains", &["name", "owner", "created", "encryption_key"]),
    (
        "repositories",
        &["domain", "name", "description", "created"],
    ),
    ("tokens", &["hash", "principal", "domain", "expires"]),
    (
        "versions",
        &[
            "id",
            "domain",
            "repository",
            "format",
            "namespace",
            "package",
            "version",
            "revision",
            "status",
            "published",
            "metadata",
        ],
    ),
    (
        "assets",
        &[
            "version_id",
            "name",
            "size",
            "md5",
            "sha1",
            "sha256",
            "sha512",
        ],
    ),
    (
        "upstreams",
        &["domain", "repository", "position", "upstream"],
    ),
    ("external_links", &["domain", "repository", "connection"]),
    (
        "package_origins",
        &[
            "domain",
            "repository",
            "format",
            "namespace",
            "package",
            "publish",
            "upstream",
        ],
    ),
    (
        "version_origins",
        &[
            "version_id",
            "origin_type",
            "entry_repository",
            "external_connection",
        ],
    ),
    (
        "dist_tags",
        &[
            "domain",
            "repository",
            "format",
            "namespace",
            "package",
            "tag",
            "version",
        ],
    ),
    ("resource_tags", &["resource", "key", "value"]),
    (
        "permission_policies",
        &["domain", "repository", "document", "revision"],
    ),
    (
        "package_groups",
        &[
            "domain",
            "pattern",
            "description",
            "contact_info",
            "created",
            "publish",
            "external_upstream",
            "internal_upstream",
        ],
    ),
    (
        "package_group_repositories",
        &["domain", "pattern", "restriction", "repository"],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_lists_every_table_of_the_schema_with_its_columns() {
        let connection = Connection::open_sqlite(std::path::Path::new(":memory:")).unwrap();
        let mut connection = connection;
        migrate(&mut connection).unwrap();
        let mut names: Vec<String> = connection
            .query_map(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'schema_migrations' ORDER BY name",
                (),
                |row| row.get(0),
            )
            .unwrap();
        names.sort();
        let mut listed: Vec<String> = TABLES.iter().map(|(name, _)| (*name).to_owned()).collect();
        listed.sort();
        assert_eq!(names, listed);
        for (table, columns) in TABLES {
            let actual: Vec<String> = connection
                .query_map(
                    &format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
                    (),
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(&actual, columns, "{table}");
        }
    }

    #[test]
    fn the_postgres_schema_has_its_types() {
        let schema = for_postgres(SCHEMA_V1);
        assert!(schema.contains("id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"));
        assert!(schema.contains("version_id BIGINT PRIMARY KEY REFERENCES versions(id)"));
        assert!(!schema.contains(" REAL") && !schema.contains(" INTEGER"));
    }

    #[test]
    fn dist_tags_of_an_index_without_formats_become_npm_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite3");
        let legacy = Connection::open_sqlite(&path).unwrap();
        legacy
            .execute_batch(
                "CREATE TABLE dist_tags (domain TEXT NOT NULL, repository TEXT NOT NULL, namespace TEXT NOT NULL, package TEXT NOT NULL, tag TEXT NOT NULL, version TEXT NOT NULL, PRIMARY KEY (domain, repository, namespace, package, tag));
                 INSERT INTO dist_tags VALUES ('d', 'r', 'acme', 'tool', 'latest', '1.0.0');",
            )
            .unwrap();
        drop(legacy);
        let mut connection = Connection::open_sqlite(&path).unwrap();
        migrate(&mut connection).unwrap();
        let tags: Vec<(String, String)> = connection
            .query_map(
                "SELECT format, version FROM dist_tags WHERE package = 'tool'",
                (),
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(tags, vec![("npm".to_owned(), "1.0.0".to_owned())]);
        // Opening again is a no-op.
        migrate(&mut connection).unwrap();
        assert_eq!(applied(&connection).unwrap(), vec![1]);
    }
}
