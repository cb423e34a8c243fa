//! The PostgreSQL side of the index seam: connections that reconnect by themselves, the SQL
//! translation, the write lock, and the listener of commit notifications behind
//! [`super::Pool::generation`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator as _;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::{Column, Error, Value};

/// The transaction-scoped advisory lock every write transaction takes first (`lading` in
/// ASCII): writers of every node serialise on it as SQLite's writers do on its write lock.
pub const WRITE_LOCK: i64 = 0x0000_6c61_6469_6e67;
/// The session advisory lock held while migrations are applied.
pub const MIGRATION_LOCK: i64 = 0x0000_6c61_6469_6e68;
/// The channel every commit notifies.
const CHANNEL: &str = "lading_index";
/// How long a connection attempt may take before the request gets a 503.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A PostgreSQL database to use (parsed `--index`; its password is never shown).
#[derive(Clone)]
pub struct Target {
    config: postgres::Config,
    display: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.display)
    }
}

impl Target {
    /// Read a `postgres://` or `postgresql://` URL.
    ///
    /// # Errors
    /// [`Error::NotPostgres`] for anything else.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let shown = crate::secret::SafeUrl::parse(url)
            .map_or_else(|_| "the given URL".to_owned(), |safe| safe.to_string());
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::NotPostgres(shown));
        }
        let mut config =
            postgres::Config::from_str(url).map_err(|_| Error::NotPostgres(shown.clone()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("lading serve");
        }
        let host = config.get_hosts().first().map_or_else(
            || "localhost".to_owned(),
            |host| match host {
                postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => path.display().to_string(),
            },
        );
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let display = format!(
            "postgres://{}{host}:{port}/{}",
            config
                .get_user()
                .map(|user| format!("{user}@"))
                .unwrap_or_default(),
            config.get_dbname().unwrap_or_default()
        );
        Ok(Self { config, display })
    }

    /// The database as `postgres://user@host:port/name` (no password).
    #[must_use]
    pub fn display(&self) -> String {
        self.display.clone()
    }

    fn connect(&self) -> Result<postgres::Client, Error> {
        self.config
            .connect(postgres::NoTls)
            .map_err(|source| Error::Unavailable {
                target: self.display.clone(),
                source,
            })
    }
}

/// What the connections of one pool share.
#[derive(Debug)]
pub struct Shared {
    target: Target,
    /// Bumped when a connection is found lost: every idle connection made before then is
    /// replaced on its next use (they most likely died with it, e.g. a database restart).
    epoch: AtomicU64,
    /// See [`super::Pool::generation`].
    generation: AtomicU64,
    /// Whether the listener is connected (notifications are not being missed).
    listening: AtomicBool,
}

impl Shared {
    /// Shared state for connections to `target`.
    #[must_use]
    pub fn new(target: Target) -> Arc<Self> {
        Arc::new(Self {
            target,
            epoch: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
        })
    }

    pub(super) fn generation(&self) -> Option<u64> {
        self.listening
            .load(Ordering::Acquire)
            .then(|| self.generation.load(Ordering::Acquire))
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn lost(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

/// Whether `error` means the connection is gone (or the server is going away or not ready).
#[must_use]
pub fn connection_lost(error: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    if error.is_closed() {
        return true;
    }
    match error.code() {
        Some(code) => {
            code.code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                ]
                .contains(code)
        }
        None => std::error::Error::source(error)
            .is_some_and(<dyn std::error::Error>::is::<std::io::Error>),
    }
}

struct Live {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
    epoch: u64,
}

/// One connection, opened on first use and again after it was lost.
pub struct PgConnection {
    shared: Arc<Shared>,
    live: RefCell<Option<Live>>,
    in_transaction: Cell<bool>,
}

impl std::fmt::Debug for PgConnection {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PgConnection")
            .field("target", &self.shared.target)
            .field("in_transaction", &self.in_transaction.get())
            .finish_non_exhaustive()
    }
}

/// `?1` placeholders become `$1`; `instr(haystack, needle)` becomes `strpos`.
#[must_use]
pub fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quoted = false;
    for character in sql.chars() {
        match character {
            '\'' => {
                quoted = !quoted;
                out.push(character);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(character),
        }
    }
    out.replace("instr(", "strpos(")
}

impl PgConnection {
    pub(super) fn new(shared: &Arc<Shared>) -> Self {
        Self {
            shared: Arc::clone(shared),
            live: RefCell::new(None),
            in_transaction: Cell::new(false),
        }
    }

    /// Run `work` on the live connection (connecting first when there is none, or when it
    /// predates a loss seen elsewhere and no transaction is open); a lost connection is
    /// dropped. With `retry`, work that failed because the connection was found lost runs
    /// once more on a new one (only for work that changed nothing: reads, `BEGIN`).
    fn run<T>(
        &self,
        retry: bool,
        mut work: impl FnMut(&mut Live) -> Result<T, postgres::Error>,
    ) -> Result<T, Error> {
        let mut attempts = if retry { 2 } else { 1 };
        loop {
            attempts -= 1;
            let mut slot = self.live.borrow_mut();
            let epoch = self.shared.epoch.load(Ordering::Acquire);
            let stale = slot.as_ref().is_none_or(|live| {
                live.client.is_closed() || (!self.in_transaction.get() && live.epoch != epoch)
            });
            if stale {
                if self.in_transaction.get() {
                    *slot = None;
                    self.in_transaction.set(false);
                    return Err(Error::Lost {
                        target: self.shared.target.display(),
                    });
                }
                *slot = None;
                *slot = Some(Live {
                    client: self.shared.target.connect()?,
                    statements: HashMap::new(),
                    epoch,
                });
            }
            let Some(live) = slot.as_mut() else {
                continue;
            };
            match work(live) {
                Ok(value) => return Ok(value),
                Err(error) if connection_lost(&error) => {
                    *slot = None;
                    self.shared.lost();
                    if attempts == 0 || self.in_transaction.get() {
                        self.in_transaction.set(false);
                        return Err(error.into());
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    pub(super) fn execute(&self, sql: &str, values: &[Value]) -> Result<usize, Error> {
        let changed = self.run(false, |live| {
            let statement = live.prepare(sql)?;
            live.client.execute(&statement, &bind(values))
        })?;
        if changed > 0 {
            self.changed_outside_transaction();
        }
        Ok(usize::try_from(changed).unwrap_or(usize::MAX))
    }

    /// A write outside a transaction committed: tell the other nodes (their caches), and
    /// ours at once.
    fn changed_outside_transaction(&self) {
        if !self.in_transaction.get() {
            self.shared.bump();
            let _ = self.run(false, |live| {
                live.client.batch_execute(&format!("NOTIFY {CHANNEL}"))
            });
        }
    }

    pub(super) fn query(&self, sql: &str, values: &[Value]) -> Result<Vec<postgres::Row>, Error> {
        // Only a read is tried again on a new connection: a write may have committed
        // before the old one was lost.
        let read = sql.trim_start().starts_with("SELECT");
        let rows = self.run(read && !self.in_transaction.get(), |live| {
            let statement = live.prepare(sql)?;
            live.client.query(&statement, &bind(values))
        })?;
        if !read {
            self.changed_outside_transaction();
        }
        Ok(rows)
    }

    pub(super) fn batch(&self, sql: &str) -> Result<(), Error> {
        self.run(false, |live| live.client.batch_execute(sql))
    }

    pub(super) fn begin_write(&self) -> Result<(), Error> {
        self.run(true, |live| {
            live.client.batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
            ))
        })?;
        self.in_transaction.set(true);
        Ok(())
    }

    /// Begin a transaction without the write lock (migrations take their own).
    pub(super) fn begin_plain(&self) -> Result<(), Error> {
        self.run(true, |live| live.client.batch_execute("BEGIN"))?;
        self.in_transaction.set(true);
        Ok(())
    }

    pub(super) fn commit(&self) -> Result<(), Error> {
        let result = self.run(false, |live| {
            live.client
                .batch_execute(&format!("NOTIFY {CHANNEL}; COMMIT"))
        });
        if result.is_err() {
            self.rollback();
        }
        self.in_transaction.set(false);
        self.shared.bump();
        result
    }

    pub(super) fn rollback(&self) {
        if self.in_transaction.get() {
            let _ = self.run(false, |live| live.client.batch_execute("ROLLBACK"));
        }
        self.in_transaction.set(false);
    }
}

impl Drop for PgConnection {
    fn drop(&mut self) {
        // Closing a client blocks on its own runtime, which must not happen on a thread
        // driving async tasks (a store dropped there): close it on a thread of its own.
        if let Some(live) = self.live.get_mut().take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::Builder::new()
                .name("lading-index-close".to_owned())
                .spawn(move || drop(live));
        }
    }
}

impl Live {
    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&translate(sql))?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

fn bind(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|value| value as &(dyn ToSql + Sync))
        .collect()
}

/// A value binds as whatever type PostgreSQL inferred for its placeholder.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Self::Null => Ok(IsNull::Yes),
            Self::Integer(value) => match *ty {
                Type::INT2 => i16::try_from(*value)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*value)?.to_sql(ty, out),
                Type::BOOL => (*value != 0).to_sql(ty, out),
                #[expect(clippy::cast_precision_loss, reason = "as SQLite converts")]
                Type::FLOAT8 => (*value as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => value.to_string().to_sql(ty, out),
                _ => value.to_sql(ty, out),
            },
            Self::Real(value) => match *ty {
                #[expect(clippy::cast_possible_truncation, reason = "a float4 column")]
                Type::FLOAT4 => (*value as f32).to_sql(ty, out),
                _ => value.to_sql(ty, out),
            },
            Self::Text(text) => text.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Column `index` of a PostgreSQL row.
pub(super) fn column(row: &postgres::Row, index: usize) -> Result<Column<'_>, Error> {
    let wrong = |found| Error::Column {
        index,
        found,
        wanted: "a column lading reads",
    };
    let ty = row
        .columns()
        .get(index)
        .ok_or(wrong("nothing (no such column)"))?
        .type_()
        .clone();
    let column = match ty {
        Type::BOOL => row
            .try_get::<_, Option<bool>>(index)?
            .map(|value| Column::Integer(i64::from(value))),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(index)?
            .map(|value| Column::Integer(i64::from(value))),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(index)?
            .map(|value| Column::Integer(i64::from(value))),
        Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(Column::Integer),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(index)?
            .map(|value| Column::Real(f64::from(value))),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(index)?.map(Column::Real),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            row.try_get::<_, Option<&str>>(index)?.map(Column::Text)
        }
        _ => return Err(wrong("a PostgreSQL type lading does not read")),
    };
    Ok(column.unwrap_or(Column::Null))
}

/// Start the listener of commit notifications: it bumps the generation on each, and on a
/// lost connection marks the generation unknown, the pool's connections stale, and
/// reconnects (every half second) until the database answers again. It ends when the pool
/// is dropped.
pub(super) fn listen(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    let spawned = std::thread::Builder::new()
        .name("lading-index-listener".to_owned())
        .spawn(move || {
            loop {
                let Some(shared) = weak.upgrade() else {
                    return;
                };
                let connected = shared.target.connect().and_then(|mut client| {
                    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
                    Ok(client)
                });
                let mut client = match connected {
                    Ok(client) => client,
                    Err(error) => {
                        tracing::debug!(error = %crate::diagnostics::one_line(&error), "index listener cannot connect");
                        drop(shared);
                        std::thread::sleep(Duration::from_millis(500));
                        continue;
                    }
                };
                // Commits while nobody listened were missed: start a new generation.
                shared.bump();
                shared.listening.store(true, Ordering::Release);
                drop(shared);
                loop {
                    let Some(shared) = weak.upgrade() else {
                        return;
                    };
                    let failed = {
                        let mut notifications = client.notifications();
                        let mut iterator = notifications.timeout_iter(Duration::from_millis(500));
                        loop {
                            match iterator.next() {
                                Ok(Some(_)) => shared.bump(),
                                Ok(None) => break false,
                                Err(_) => break true,
                            }
                        }
                    };
                    if failed || client.is_closed() {
                        shared.listening.store(false, Ordering::Release);
                        shared.lost();
                        tracing::warn!(index = %shared.target.display, "lost the connection to the PostgreSQL index; reconnecting");
                        break;
                    }
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(error = %error, "cannot start the index listener; caches stay off");
    }
}
