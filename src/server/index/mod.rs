//! The index database behind one seam: SQLite (the embedded default, `DATA/index-v1.sqlite3`)
//! or PostgreSQL (`lading serve --index postgres://…`, shared by several nodes).
//!
//! Everything above this module writes its SQL once, in the dialect both engines share:
//! `?1`-style placeholders, `INSERT … ON CONFLICT … DO NOTHING / DO UPDATE`, `RETURNING`,
//! `CAST(… AS TEXT)` where a parameter's type is otherwise ambiguous, `EXISTS (…)` read as a
//! `bool`. What differs is translated here, in one place ([`pg::translate`]): placeholders
//! become `$1`, `instr` becomes `strpos`, and the schema's `REAL` / `INTEGER` / rowid key
//! become `DOUBLE PRECISION` / `BIGINT` / an identity column ([`schema::for_postgres`]).
//!
//! - [`Connection`]: `execute`, `query_row`, `query_map` with typed row access ([`Row::get`]),
//!   parameters as [`Value`]s (`params!`, arrays of one type, `()`).
//! - [`Connection::write_transaction`]: the one way to write several rows together. On SQLite
//!   it is `BEGIN IMMEDIATE` (writers serialise on the database's write lock); on PostgreSQL
//!   it is `BEGIN` plus a transaction-scoped advisory lock every writer of every node takes
//!   first ([`pg::WRITE_LOCK`]), so a read-then-write path (does this version exist? then
//!   insert it) runs as it does on SQLite: no other writer commits in between, and every read
//!   after the lock sees every earlier commit (READ COMMITTED takes a snapshot per statement).
//!   Unique constraints stay as the second line of defence.
//! - [`Pool`]: the connections of one store, [`Pool::generation`] (changes whenever anything
//!   commits, on this node or another) and [`Pool::usage`] for `/metrics`.
//! - [`schema`]: the versioned migrations, applied at open under a lock (SQLite's write lock;
//!   PostgreSQL's session advisory lock [`pg::MIGRATION_LOCK`]), so nodes starting together
//!   apply each migration once.
//!
//! Faults: a PostgreSQL that does not answer yields [`Error::is_unavailable`] errors (answered
//! 503 with `Retry-After` by `server::error`), never a hang past the connect timeout; a lost
//! connection is replaced on its next use, so service resumes by itself.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub mod copy;
pub mod pg;
pub mod schema;

/// Where the index lives.
#[derive(Debug, Clone)]
pub enum Location {
    /// An SQLite file (created if needed).
    Sqlite(PathBuf),
    /// A PostgreSQL database (the URL may carry a password: never print it).
    Postgres(Box<pg::Target>),
}

impl Location {
    /// `--index`: a `postgres://` / `postgresql://` URL (libpq's key=value form too).
    ///
    /// # Errors
    /// Anything else, or a URL the PostgreSQL client cannot read.
    pub fn postgres(url: &str) -> Result<Self, Error> {
        Ok(Self::Postgres(Box::new(pg::Target::parse(url)?)))
    }

    /// How to name it in messages (no password).
    #[must_use]
    pub fn display(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("`{}`", path.display()),
            Self::Postgres(target) => target.display(),
        }
    }
}

/// Index failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite failed.
    #[error("the SQLite index failed")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed (or its connection did).
    #[error("the PostgreSQL index failed")]
    Postgres(#[from] postgres::Error),
    /// No connection to PostgreSQL could be had.
    #[error("the PostgreSQL index at {target} does not answer")]
    Unavailable {
        /// The database, without password.
        target: String,
        /// Why.
        #[source]
        source: postgres::Error,
    },
    /// The connection to PostgreSQL was lost in the middle of a transaction.
    #[error("the connection to the PostgreSQL index at {target} was lost")]
    Lost {
        /// The database, without password.
        target: String,
    },
    /// `query_row` found no row.
    #[error("the query returned no row")]
    NoRows,
    /// A column did not hold what the code reads from it.
    #[error("column {index} holds {found}, not {wanted}")]
    Column {
        /// Its position.
        index: usize,
        /// What it holds.
        found: &'static str,
        /// What was asked for.
        wanted: &'static str,
    },
    /// The `--index` value is not something lading can use.
    #[error("`{0}` is not a PostgreSQL URL")]
    NotPostgres(String),
}

impl Error {
    /// Whether the database is away (a retry later may succeed): no connection, a lost
    /// connection, the server shutting down or not accepting connections yet.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable { .. } | Self::Lost { .. } => true,
            Self::Postgres(error) => pg::connection_lost(error),
            Self::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => matches!(
                failure.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            _ => false,
        }
    }

    /// Whether a unique (or primary key) constraint refused the write.
    #[must_use]
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => {
                failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            }
            Self::Postgres(error) => {
                error.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }
}

/// A parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
}

/// Something that can be bound as a parameter.
pub trait ToValue {
    /// The value to bind.
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Integer(*self)
    }
}
impl ToValue for i32 {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}
impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}
impl ToValue for crate::format::Format {
    fn to_value(&self) -> Value {
        Value::Text(self.name().to_owned())
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

/// A statement's parameters: `()`, an array of one type, or `params!` for mixed types.
pub trait Params {
    /// The values, in placeholder order (`?1` first).
    fn values(self) -> Vec<Value>;
}

impl Params for () {
    fn values(self) -> Vec<Value> {
        Vec::new()
    }
}
impl<T: ToValue, const N: usize> Params for [T; N] {
    fn values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}
impl Params for &[&dyn ToValue] {
    fn values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}
impl Params for Vec<Value> {
    fn values(self) -> Vec<Value> {
        self
    }
}

/// Parameters of mixed types: `params![key.domain, position, metadata]`.
macro_rules! params {
    () => {
        ()
    };
    ($($value:expr),+ $(,)?) => {
        &[$(&$value as &dyn $crate::server::index::ToValue),+] as &[&dyn $crate::server::index::ToValue]
    };
}
pub(crate) use params;

/// One column of a row, as read.
#[derive(Debug, Clone, Copy)]
pub enum Column<'a> {
    /// `NULL`.
    Null,
    /// An integer (PostgreSQL booleans read as 0 / 1).
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(&'a str),
}

impl Column<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Integer(_) => "an integer",
            Self::Real(_) => "a real",
            Self::Text(_) => "text",
        }
    }
}

/// A type a column can be read as.
pub trait FromColumn: Sized {
    /// Read it; `None` when the column holds something else.
    fn from_column(column: Column<'_>) -> Option<Self>;
    /// What is wanted, for the error.
    const WANTED: &'static str;
}

impl FromColumn for i64 {
    const WANTED: &'static str = "an integer";
    fn from_column(column: Column<'_>) -> Option<Self> {
        match column {
            Column::Integer(value) => Some(value),
            _ => None,
        }
    }
}
impl FromColumn for f64 {
    const WANTED: &'static str = "a real";
    fn from_column(column: Column<'_>) -> Option<Self> {
        match column {
            Column::Real(value) => Some(value),
            #[expect(clippy::cast_precision_loss, reason = "as SQLite itself converts")]
            Column::Integer(value) => Some(value as f64),
            _ => None,
        }
    }
}
impl FromColumn for bool {
    const WANTED: &'static str = "a boolean";
    fn from_column(column: Column<'_>) -> Option<Self> {
        match column {
            Column::Integer(value) => Some(value != 0),
            _ => None,
        }
    }
}
impl FromColumn for String {
    const WANTED: &'static str = "text";
    fn from_column(column: Column<'_>) -> Option<Self> {
        match column {
            Column::Text(text) => Some(text.to_owned()),
            _ => None,
        }
    }
}
impl FromColumn for crate::format::Format {
    const WANTED: &'static str = "a format name";
    fn from_column(column: Column<'_>) -> Option<Self> {
        match column {
            Column::Text(text) => text.parse().ok(),
            _ => None,
        }
    }
}
impl<T: FromColumn> FromColumn for Option<T> {
    const WANTED: &'static str = T::WANTED;
    fn from_column(column: Column<'_>) -> Option<Self> {
        match column {
            Column::Null => Some(None),
            other => T::from_column(other).map(Some),
        }
    }
}

/// A row of a result.
pub struct Row<'a>(RowInner<'a>);

enum RowInner<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a postgres::Row),
}

impl Row<'_> {
    /// Column `index` (from 0) as a `T`.
    ///
    /// # Errors
    /// When the column does not exist or holds something that is not a `T`.
    pub fn get<T: FromColumn>(&self, index: usize) -> Result<T, Error> {
        let column = match &self.0 {
            RowInner::Sqlite(row) => match row.get_ref(index)? {
                rusqlite::types::ValueRef::Null => Column::Null,
                rusqlite::types::ValueRef::Integer(value) => Column::Integer(value),
                rusqlite::types::ValueRef::Real(value) => Column::Real(value),
                rusqlite::types::ValueRef::Text(bytes) | rusqlite::types::ValueRef::Blob(bytes) => {
                    Column::Text(std::str::from_utf8(bytes).map_err(|_| Error::Column {
                        index,
                        found: "bytes that are not UTF-8",
                        wanted: T::WANTED,
                    })?)
                }
            },
            RowInner::Postgres(row) => pg::column(row, index)?,
        };
        T::from_column(column).ok_or(Error::Column {
            index,
            found: column.kind(),
            wanted: T::WANTED,
        })
    }
}

impl Row<'_> {
    /// Column `index` (from 0) as whatever it holds.
    ///
    /// # Errors
    /// When the column does not exist or holds a type lading does not read.
    pub fn value(&self, index: usize) -> Result<Value, Error> {
        Ok(match self.get::<Option<ColumnValue>>(index)? {
            None => Value::Null,
            Some(ColumnValue(value)) => value,
        })
    }
}

/// Any non-null column, as a [`Value`].
struct ColumnValue(Value);

impl FromColumn for ColumnValue {
    const WANTED: &'static str = "a value";
    fn from_column(column: Column<'_>) -> Option<Self> {
        Some(Self(match column {
            Column::Null => Value::Null,
            Column::Integer(value) => Value::Integer(value),
            Column::Real(value) => Value::Real(value),
            Column::Text(text) => Value::Text(text.to_owned()),
        }))
    }
}

/// `query_row(...).optional()`: no row is `None`.
pub trait OptionalExtension<T> {
    /// `Ok(None)` for [`Error::NoRows`].
    ///
    /// # Errors
    /// Every other error.
    fn optional(self) -> Result<Option<T>, Error>;
}

impl<T> OptionalExtension<T> for Result<T, Error> {
    fn optional(self) -> Result<Option<T>, Error> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(Error::NoRows) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Which engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// One connection to the index.
#[derive(Debug)]
pub struct Connection {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(Box<pg::PgConnection>),
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Self::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Self::Integer(value) => ToSqlOutput::Borrowed(ValueRef::Integer(*value)),
            Self::Real(value) => ToSqlOutput::Borrowed(ValueRef::Real(*value)),
            Self::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        })
    }
}

impl Connection {
    /// Open an SQLite index file with the settings the store relies on (WAL, full sync,
    /// foreign keys, a 30 s busy timeout).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn open_sqlite(path: &Path) -> Result<Self, Error> {
        let connection = rusqlite::Connection::open(path)?;
        connection.busy_timeout(std::time::Duration::from_secs(30))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Self {
            backend: Backend::Sqlite(connection),
        })
    }

    /// The engine.
    #[must_use]
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Run one statement; the number of rows it changed.
    ///
    /// # Errors
    /// Database errors.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize, Error> {
        let values = params.values();
        match &self.backend {
            Backend::Sqlite(connection) => Ok(connection
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(values.iter()))?),
            Backend::Postgres(connection) => connection.execute(sql, &values),
        }
    }

    /// The first row of a query, through `read`; [`Error::NoRows`] when there is none
    /// (`.optional()` turns that into `None`).
    ///
    /// # Errors
    /// Database errors, [`Error::NoRows`], and `read`'s errors.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        read: impl FnOnce(&Row<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let values = params.values();
        match &self.backend {
            Backend::Sqlite(connection) => {
                let mut statement = connection.prepare_cached(sql)?;
                let mut rows = statement.query(rusqlite::params_from_iter(values.iter()))?;
                match rows.next()? {
                    Some(row) => read(&Row(RowInner::Sqlite(row))),
                    None => Err(Error::NoRows),
                }
            }
            Backend::Postgres(connection) => {
                let rows = connection.query(sql, &values)?;
                match rows.first() {
                    Some(row) => read(&Row(RowInner::Postgres(row))),
                    None => Err(Error::NoRows),
                }
            }
        }
    }

    /// Every row of a query, each through `read`.
    ///
    /// # Errors
    /// Database errors and `read`'s errors.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut read: impl FnMut(&Row<'_>) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        let values = params.values();
        match &self.backend {
            Backend::Sqlite(connection) => {
                let mut statement = connection.prepare_cached(sql)?;
                let mut rows = statement.query(rusqlite::params_from_iter(values.iter()))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(read(&Row(RowInner::Sqlite(row)))?);
                }
                Ok(out)
            }
            Backend::Postgres(connection) => connection
                .query(sql, &values)?
                .iter()
                .map(|row| read(&Row(RowInner::Postgres(row))))
                .collect(),
        }
    }

    /// Run several statements without parameters (schema changes).
    ///
    /// # Errors
    /// Database errors.
    pub fn execute_batch(&self, sql: &str) -> Result<(), Error> {
        match &self.backend {
            Backend::Sqlite(connection) => Ok(connection.execute_batch(sql)?),
            Backend::Postgres(connection) => connection.batch(sql),
        }
    }

    /// Begin a write transaction that takes the index's write lock up front (see the module
    /// docs); it rolls back when dropped without [`Transaction::commit`].
    ///
    /// # Errors
    /// When the lock cannot be had (SQLite's busy timeout) or the database is away.
    pub fn write_transaction(&mut self) -> Result<Transaction<'_>, Error> {
        match &self.backend {
            Backend::Sqlite(connection) => connection.execute_batch("BEGIN IMMEDIATE")?,
            Backend::Postgres(connection) => connection.begin_write()?,
        }
        Ok(Transaction {
            connection: self,
            finished: false,
        })
    }

    /// A transaction without the write lock, for a migration (which holds its own lock).
    fn migration_transaction(&mut self) -> Result<Transaction<'_>, Error> {
        match &self.backend {
            Backend::Sqlite(connection) => connection.execute_batch("BEGIN IMMEDIATE")?,
            Backend::Postgres(connection) => connection.begin_plain()?,
        }
        Ok(Transaction {
            connection: self,
            finished: false,
        })
    }

    /// SQLite's `PRAGMA data_version` (the generation of an SQLite index), `None` elsewhere.
    fn data_version(&self) -> Option<u64> {
        match &self.backend {
            Backend::Sqlite(connection) => connection
                .prepare_cached("PRAGMA data_version")
                .and_then(|mut statement| statement.query_row([], |row| row.get::<_, i64>(0)))
                .ok()
                .and_then(|version| u64::try_from(version).ok()),
            Backend::Postgres(_) => None,
        }
    }
}

/// A write transaction (see [`Connection::write_transaction`]); reads and writes go through
/// it as through the connection.
#[derive(Debug)]
pub struct Transaction<'a> {
    connection: &'a mut Connection,
    finished: bool,
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.connection
    }
}

impl Transaction<'_> {
    /// Commit.
    ///
    /// # Errors
    /// Database errors (the transaction is then rolled back).
    pub fn commit(mut self) -> Result<(), Error> {
        self.finished = true;
        match &self.connection.backend {
            Backend::Sqlite(connection) => {
                if let Err(error) = connection.execute_batch("COMMIT") {
                    let _ = connection.execute_batch("ROLLBACK");
                    return Err(error.into());
                }
                Ok(())
            }
            Backend::Postgres(connection) => connection.commit(),
        }
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.finished {
            match &self.connection.backend {
                Backend::Sqlite(connection) => {
                    let _ = connection.execute_batch("ROLLBACK");
                }
                Backend::Postgres(connection) => connection.rollback(),
            }
        }
    }
}

/// The index connections of one store: a small pool handing out a free connection, or the
/// next in turn once it is free.
#[derive(Debug)]
pub struct Pool {
    connections: Vec<Mutex<Connection>>,
    next: std::sync::atomic::AtomicUsize,
    generation: Generation,
    location: Location,
}

#[derive(Debug)]
enum Generation {
    /// A connection that only ever asks for `PRAGMA data_version`.
    Sqlite(Mutex<Connection>),
    /// Counted by the listener of commit notifications.
    Postgres(std::sync::Arc<pg::Shared>),
}

/// Index connections per store on SQLite (WAL: readers beside one writer).
const SQLITE_POOL: usize = 4;
/// Index connections per store on PostgreSQL.
const POSTGRES_POOL: usize = 8;

impl Pool {
    /// Open the index at `location`, creating it and applying its migrations if needed.
    ///
    /// # Errors
    /// When the database cannot be opened or migrated.
    pub fn open(location: &Location) -> Result<Self, Error> {
        let (connections, generation) = match location {
            Location::Sqlite(path) => {
                let mut connections = (0..SQLITE_POOL)
                    .map(|_| Connection::open_sqlite(path))
                    .collect::<Result<Vec<_>, _>>()?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt as _;
                    // The index holds principals' secret keys.
                    let _ = fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o600));
                }
                schema::migrate(&mut connections[0])?;
                let watcher = Connection::open_sqlite(path)?;
                if let Backend::Sqlite(connection) = &watcher.backend {
                    // Called on async worker threads: fail (and skip the caches) rather
                    // than wait.
                    connection.busy_timeout(std::time::Duration::ZERO)?;
                }
                (connections, Generation::Sqlite(Mutex::new(watcher)))
            }
            Location::Postgres(target) => {
                let shared = pg::Shared::new((**target).clone());
                let mut first = Connection {
                    backend: Backend::Postgres(Box::new(pg::PgConnection::new(&shared))),
                };
                schema::migrate(&mut first)?;
                let mut connections = vec![first];
                connections.extend((1..POSTGRES_POOL).map(|_| Connection {
                    backend: Backend::Postgres(Box::new(pg::PgConnection::new(&shared))),
                }));
                pg::listen(&shared);
                (connections, Generation::Postgres(shared))
            }
        };
        Ok(Self {
            connections: connections.into_iter().map(Mutex::new).collect(),
            next: std::sync::atomic::AtomicUsize::new(0),
            generation,
            location: location.clone(),
        })
    }

    /// A free connection if there is one, else the next in turn once it is free.
    pub fn get(&self) -> std::sync::MutexGuard<'_, Connection> {
        let pool = &self.connections;
        pool.iter()
            .find_map(|slot| slot.try_lock().ok())
            .unwrap_or_else(|| {
                let index =
                    self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % pool.len();
                lock(&pool[index])
            })
    }

    /// Connections busy right now, and the pool's size (for `/metrics`).
    #[must_use]
    pub fn usage(&self) -> (usize, usize) {
        let pool = &self.connections;
        let busy = pool.iter().filter(|slot| slot.try_lock().is_err()).count();
        (busy, pool.len())
    }

    /// Where the index is.
    #[must_use]
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// A number that changes whenever any connection (of this process or another one
    /// sharing the index) commits; `None` when it cannot be told right now (callers then
    /// skip their caches). Never waits on the database.
    ///
    /// SQLite: `PRAGMA data_version` read from shared memory. PostgreSQL: a counter bumped by
    /// this node's own commits (at once) and by the commit notifications of every node
    /// (`LISTEN`, delivered as each commit happens); `None` while the listening connection
    /// is down, since notifications may have been missed.
    #[must_use]
    pub fn generation(&self) -> Option<u64> {
        match &self.generation {
            Generation::Sqlite(watcher) => lock(watcher).data_version(),
            Generation::Postgres(shared) => shared.generation(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
