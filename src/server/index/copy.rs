//! `lading serve migrate --index postgres://…`: copy an SQLite index into another database,
//! verified and resumable.
//!
//! Every table of [`super::schema::TABLES`] is read whole from the source and written in
//! batches of `BATCH` (500) rows, each batch one write transaction, each row
//! `INSERT … ON CONFLICT DO NOTHING`: a copy that was interrupted is resumed by running it
//! again (rows already there are skipped). Then each table is compared, row by row, between
//! the two databases (every row's values, in a canonical order): the copy is verified only
//! when they hold the same rows.

use super::{Connection, Error, Location, Pool, Value, schema};

/// Rows written per transaction.
const BATCH: usize = 500;

/// What one table's copy found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableCopy {
    /// The table.
    pub table: &'static str,
    /// Rows in the source.
    pub source_rows: usize,
    /// Rows written now (the others were there already).
    pub written: usize,
    /// Whether the target then held exactly the source's rows.
    pub identical: bool,
}

/// Copy the index at `source` into `target` (whose migrations are applied first).
///
/// # Errors
/// Either database failing.
pub fn copy(source: &Location, target: &Location) -> Result<Vec<TableCopy>, Error> {
    let source = Pool::open(source)?;
    let target = Pool::open(target)?;
    let from = source.get();
    let mut to = target.get();
    let mut report = Vec::new();
    for (table, columns) in schema::TABLES {
        let rows = rows_of(&from, table, columns)?;
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
            columns.join(", "),
            (1..=columns.len())
                .map(|index| format!("?{index}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut written = 0;
        for batch in rows.chunks(BATCH) {
            let transaction = to.write_transaction()?;
            for row in batch {
                written += transaction.execute(&insert, row.clone())?;
            }
            transaction.commit()?;
        }
        if *table == "versions" && to.dialect() == super::Dialect::Postgres {
            // Rows came with their ids: new ones continue after the largest.
            to.execute_batch(
                "SELECT setval(pg_get_serial_sequence('versions', 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM versions), false)",
            )?;
        }
        let identical = canonical(&rows) == canonical(&rows_of(&to, table, columns)?);
        report.push(TableCopy {
            table,
            source_rows: rows.len(),
            written,
            identical,
        });
    }
    Ok(report)
}

fn rows_of(
    connection: &Connection,
    table: &str,
    columns: &[&str],
) -> Result<Vec<Vec<Value>>, Error> {
    connection.query_map(
        &format!("SELECT {} FROM {table}", columns.join(", ")),
        (),
        |row| (0..columns.len()).map(|index| row.value(index)).collect(),
    )
}

/// The rows as sorted text: the same for two tables holding the same rows, whatever order
/// each engine returns them in.
fn canonical(rows: &[Vec<Value>]) -> Vec<String> {
    let mut lines: Vec<String> = rows.iter().map(|row| format!("{row:?}")).collect();
    lines.sort();
    lines
}
