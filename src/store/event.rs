//! `message_event`: every state change of a message, with its time (SPEC §6).
//!
//! Events are written in the transaction that makes the change, in batches: either one
//! `INSERT … SELECT` over the changed rows (whose new state is read back from `message`),
//! or one multi-row `INSERT … VALUES` when each row carries its own detail.

use anyhow::Context;
use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite};

use super::Millis;

/// Ids per statement: well under SQLite's 32,766 bound parameters.
const CHUNK: usize = 1000;

/// Where an event's detail comes from.
#[derive(Clone, Copy, Debug)]
pub(super) enum Detail<'a> {
    /// The same text for every row.
    Text(Option<&'a str>),
    /// The row's `last_error` after the change (a skip reason, an error).
    LastError,
    /// "attempt N by OWNER", from the row's new lease.
    Lease,
}

/// One event per row in `ids` (in any order, no duplicates), moving from `from` to the
/// row's current state, at `at`.
pub(super) async fn for_rows(
    conn: &mut SqliteConnection,
    ids: &[i64],
    at: Millis,
    from: Option<&str>,
    detail: Detail<'_>,
) -> anyhow::Result<()> {
    let detail_column = match detail {
        Detail::Text(_) => "?",
        Detail::LastError => "last_error",
        Detail::Lease => "'attempt ' || attempts || ' by ' || lease_owner",
    };
    let head = format!(
        "INSERT INTO message_event (message, at, from_state, to_state, detail) \
         SELECT id, ?, ?, state, {detail_column} FROM message WHERE "
    );
    let (ranges, singles) = split_runs(ids);
    let ranged = format!("{head}id BETWEEN ? AND ?");
    let statements = ranges
        .into_iter()
        .map(|(lo, hi)| (ranged.clone(), vec![lo, hi]))
        .chain(singles.chunks(CHUNK).map(|chunk| {
            let sql = format!("{head}id IN ({})", placeholders(chunk.len()));
            (sql, chunk.to_vec())
        }));
    for (sql, binds) in statements {
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(at).bind(from);
        if let Detail::Text(text) = detail {
            query = query.bind(text);
        }
        for id in binds {
            query = query.bind(id);
        }
        query
            .execute(&mut *conn)
            .await
            .context("recording message events")?;
    }
    Ok(())
}

/// An event whose detail is particular to its row.
#[derive(Clone, Debug)]
pub(super) struct Event {
    pub message: i64,
    pub from: &'static str,
    pub to: &'static str,
    pub detail: Option<String>,
}

/// Writes `events`, all at `at`, in multi-row statements.
pub(super) async fn write(
    conn: &mut SqliteConnection,
    events: Vec<Event>,
    at: Millis,
) -> anyhow::Result<()> {
    for chunk in events.chunks(CHUNK / 2) {
        let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO message_event (message, at, from_state, to_state, detail) ",
        );
        insert.push_values(chunk, |mut row, event| {
            row.push_bind(event.message)
                .push_bind(at)
                .push_bind(event.from)
                .push_bind(event.to)
                .push_bind(event.detail.clone());
        });
        insert
            .build()
            .execute(&mut *conn)
            .await
            .context("recording message events")?;
    }
    Ok(())
}

/// Runs of at least this many consecutive ids are written as one `BETWEEN`.
const MIN_RUN: usize = 4;

/// Splits ids into ranges of consecutive ids (inclusive bounds) and the ids left over.
/// Rows inserted or updated together are usually consecutive, so a batch of any size
/// mostly becomes a handful of range statements.
fn split_runs(ids: &[i64]) -> (Vec<(i64, i64)>, Vec<i64>) {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    let mut ranges = Vec::new();
    let mut singles = Vec::new();
    let mut start = 0;
    for end in 1..=ids.len() {
        if end == ids.len() || ids[end] != ids[end - 1] + 1 {
            let run = &ids[start..end];
            if run.len() >= MIN_RUN {
                ranges.push((run[0], run[run.len() - 1]));
            } else {
                singles.extend_from_slice(run);
            }
            start = end;
        }
    }
    (ranges, singles)
}

/// `?, ?, …` with `n` placeholders.
pub(super) fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_runs_turns_consecutive_ids_into_ranges_and_keeps_the_rest() {
        let (ranges, singles) = split_runs(&[9, 1, 2, 3, 4, 5, 20, 21, 30, 31, 32, 33]);
        assert_eq!(ranges, vec![(1, 5), (30, 33)]);
        assert_eq!(singles, vec![9, 20, 21]);
        assert_eq!(split_runs(&[]), (vec![], vec![]));
    }
}
