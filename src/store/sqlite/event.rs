//! `message_event`: every state change of a message, with its time (docs/delivery.md#states).
//!
//! Events are written in the transaction that makes the change, each batch in one
//! statement: either an `INSERT … SELECT` over the changed rows (whose ids arrive as one
//! JSON array read with `json_each`, whose new state is read back from `message`), or the
//! events themselves, when each row carries its own detail, as bound `VALUES` lists
//! ([`super::values`]). Either way a few fixed SQL texts serve every batch size.

use anyhow::Context;
use serde::Serialize;
use sqlx::sqlite::SqliteConnection;

use crate::store::outcome::Event;
use crate::store::{MessageState, Millis};

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
    from: Option<MessageState>,
    detail: Detail<'_>,
) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    macro_rules! with_detail {
        ($detail:literal) => {
            concat!(
                "INSERT INTO message_event (message, at, from_state, to_state, detail) \
                 SELECT m.id, ?1, ?2, m.state, ",
                $detail,
                " FROM json_each(?3) AS j JOIN message AS m ON m.id = j.value"
            )
        };
    }
    let sql = match detail {
        Detail::Text(_) => with_detail!("?4"),
        Detail::LastError => with_detail!("m.last_error"),
        Detail::Lease => with_detail!("'attempt ' || m.attempts || ' by ' || m.lease_owner"),
    };
    let text = match detail {
        Detail::Text(text) => text,
        _ => None,
    };
    sqlx::query(sql)
        .bind(at)
        .bind(from)
        .bind(json(ids)?)
        .bind(text)
        .execute(&mut *conn)
        .await
        .context("recording message events")?;
    Ok(())
}

/// Writes `events`, all at `at`, as bound `VALUES` lists (see [`super::values`]).
pub(super) async fn write(
    conn: &mut SqliteConnection,
    events: Vec<Event>,
    at: Millis,
) -> anyhow::Result<()> {
    use super::values;
    const SQL: &str = "INSERT INTO message_event (message, at, from_state, to_state, detail) \
        SELECT column1, ?, column2, column3, column4 FROM (VALUES {values}) \
        WHERE column1 IS NOT NULL";
    for chunk in events.chunks(values::MAX_ROWS) {
        let mut insert = sqlx::query(values::sql(SQL, 4, values::padded(chunk.len()))).bind(at);
        // Details are masked like every text the ledger keeps ([`crate::mask`]).
        let details: Vec<_> = chunk
            .iter()
            .map(|e| e.detail.as_deref().map(|d| crate::mask::mask_text(d, "")))
            .collect();
        for (e, detail) in chunk.iter().zip(&details) {
            insert = insert
                .bind(e.message)
                .bind(e.from)
                .bind(e.to)
                .bind(detail.as_deref());
        }
        values::pad(insert, 4, chunk.len())
            .execute(&mut *conn)
            .await
            .context("recording message events")?;
    }
    Ok(())
}

/// A batch as the JSON text `json_each` reads.
pub(super) fn json<T: Serialize + ?Sized>(rows: &T) -> anyhow::Result<String> {
    serde_json::to_string(rows).context("encoding a batch for the ledger")
}
