//! Batches bound as a `VALUES` list: `(?, ?, …), (?, ?, …), …`.
//!
//! SQLite reads bound parameters much faster than values taken one by one out of a JSON
//! text (`j.value ->> 3`), which is what the hot writes of the dispatcher (outcomes,
//! attempts, events) used to do; enqueue binds its rows this way too. Every batch is padded
//! with rows of NULLs up to a power of two, so a handful of statement texts, each prepared
//! once and cached, serves every batch size; the statements ignore the padding (`WHERE
//! column1 IS NOT NULL`, or a join on an id that NULL never matches).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use sqlx::Sqlite;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;

/// A statement being bound.
pub(super) type Bound<'q> = Query<'q, Sqlite, SqliteArguments>;

/// Most rows one statement carries. A prepared statement grows with its rows, and every
/// connection keeps its own: 512 keeps the largest small while a busy daemon's batches (a
/// few hundred outcomes) still take one statement each.
pub(super) const MAX_ROWS: usize = 512;

/// The rows a batch of `n` is padded to (`n <= MAX_ROWS`).
pub(super) fn padded(n: usize) -> usize {
    n.next_power_of_two()
}

/// `sql` with its `{values}` replaced by `rows` rows of `columns` parameters, built once
/// per (`sql`, `rows`) and kept for the life of the process.
pub(super) fn sql(sql: &'static str, columns: usize, rows: usize) -> &'static str {
    static TEXTS: OnceLock<Mutex<HashMap<(usize, usize), &'static str>>> = OnceLock::new();
    let mut texts = TEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    texts
        .entry((sql.as_ptr() as usize, rows))
        .or_insert_with(|| {
            let row = format!("({})", vec!["?"; columns].join(", "));
            let values = vec![row; rows].join(", ");
            // Leaked on purpose: a few dozen texts at most (statements × powers of two).
            Box::leak(sql.replace("{values}", &values).into_boxed_str())
        })
}

/// Binds the padding of a batch of `n` rows of `columns` parameters: NULL in every one
/// (SQLite's NULL has no type, so one kind serves every column).
pub(super) fn pad(mut query: Bound<'_>, columns: usize, n: usize) -> Bound<'_> {
    for _ in 0..columns * (padded(n) - n) {
        query = query.bind(None::<i64>);
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_has_the_rows_and_columns_asked_for_and_is_built_once() {
        const SQL: &str = "SELECT * FROM (VALUES {values})";
        let text = sql(SQL, 3, 2);
        assert_eq!(text, "SELECT * FROM (VALUES (?, ?, ?), (?, ?, ?))");
        assert!(std::ptr::eq(text, sql(SQL, 3, 2)));
        assert_eq!([padded(1), padded(3), padded(1000)], [1, 4, 1024]);
    }
}
