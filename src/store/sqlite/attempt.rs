//! `attempt`: recording what one claimed try came to.
//!
//! Every write here is fenced: it applies only while the row is still `sending` under the
//! same owner and attempt number it was claimed with (docs/reliability.md#rule-2). A
//! worker whose lease was rescued, released or cancelled meanwhile writes nothing.

use std::collections::HashSet;

use anyhow::Context;
use sqlx::sqlite::SqliteConnection;

use super::SqliteLedger;
use super::event;
use super::values;
use crate::store::outcome::{Change, Try, event_of};
use crate::store::{Millis, NewMessage, Outcome, OutcomeKind};

/// Outcomes per fenced `UPDATE`: bounds the JSON text of one statement.
const RECORD_ROWS: usize = 2_000;

impl SqliteLedger {
    /// Applies outcomes in one transaction: each moves its message on (`sent`, back to
    /// `pending` at the retry time or as it was when released, `failed`, `skipped`,
    /// `expired`), with an `attempt` row
    /// for tries that reached the provider and an event for every change. Outcomes whose
    /// fence no longer holds are ignored. Returns how many applied.
    pub(crate) async fn record(&self, outcomes: &[Outcome], now: Millis) -> anyhow::Result<u64> {
        self.record_with_fallbacks(outcomes, &[], now).await
    }

    /// [`Store::record`], and in the same transaction the step's fallback for each of
    /// `fallbacks` (rows offered by outcomes that ended a step channel's message `failed`,
    /// `fallback_of` naming it) whose outcome applied and whose recipient the ledger then
    /// shows no step channel reached (see [`super::fallback`]).
    pub(crate) async fn record_with_fallbacks(
        &self,
        outcomes: &[Outcome],
        fallbacks: &[NewMessage],
        now: Millis,
    ) -> anyhow::Result<u64> {
        if outcomes.is_empty() {
            return Ok(0);
        }
        // Providers quote recipients in their errors: the ledger keeps them masked.
        let masked: Vec<Outcome>;
        let outcomes = if outcomes.iter().any(|o| o.result.masked().is_some()) {
            masked = outcomes
                .iter()
                .map(|o| Outcome {
                    result: o.result.masked().unwrap_or_else(|| o.result.clone()),
                    ..o.clone()
                })
                .collect();
            &masked[..]
        } else {
            outcomes
        };
        let mut w = self.write().await?;
        let mut applied = HashSet::with_capacity(outcomes.len());
        for chunk in outcomes.chunks(RECORD_ROWS) {
            applied.extend(apply(&mut w.tx, chunk, now).await?);
        }
        let offers: Vec<&NewMessage> = fallbacks
            .iter()
            .filter(|f| f.fallback_of.is_some_and(|id| applied.contains(&id)))
            .collect();
        // An outcome applies at most once, even when a batch repeats it.
        let mut events = Vec::with_capacity(applied.len());
        let mut tries = Vec::with_capacity(applied.len());
        for outcome in outcomes {
            if applied.remove(&outcome.id) {
                events.push(event_of(outcome));
                tries.extend(Try::of(outcome));
            }
        }
        insert_attempts(&mut w.tx, &tries).await?;
        let count = events.len() as u64;
        event::write(&mut w.tx, events, now).await?;
        super::fallback::take_over(&mut w.tx, &offers, now).await?;
        w.commit().await?;
        Ok(count)
    }
}

/// The fenced updates of a chunk of outcomes (one for `sent`, one for the rest): each
/// applies only while its row is still `sending` under the same owner and attempt. Returns
/// the ids they moved. The unary `+` keeps SQLite from reading every `sending` row through
/// the state index and joining the batch to each: the plan must be "each outcome, then its
/// row by primary key".
///
/// Which outcomes hold their fence is read first, as one JSON array in one row, inside the
/// same write transaction (no other writer can move those rows in between): sqlx hands
/// `RETURNING` rows over from its worker thread one at a time, which cost more than the
/// update itself.
async fn apply(
    conn: &mut SqliteConnection,
    chunk: &[Outcome],
    now: Millis,
) -> anyhow::Result<Vec<i64>> {
    let applied = fenced(conn, chunk).await?;
    if applied.is_empty() {
        return Ok(applied);
    }
    let (sent, other): (Vec<&Outcome>, Vec<&Outcome>) = chunk
        .iter()
        .partition(|o| matches!(o.result, OutcomeKind::Sent { .. }));
    apply_sent(conn, &sent, now).await?;
    apply_other(conn, &other, now).await?;
    Ok(applied)
}

/// The ids of the outcomes in `chunk` whose fence holds, read as one JSON array.
async fn fenced(conn: &mut SqliteConnection, chunk: &[Outcome]) -> anyhow::Result<Vec<i64>> {
    let rows: Vec<_> = chunk
        .iter()
        .map(|o| (o.id, o.attempt, o.owner.as_str()))
        .collect();
    let fenced: String = sqlx::query_scalar(
        "SELECT json_group_array(m.id) FROM json_each(?1) AS j JOIN message AS m \
         ON m.id = j.value ->> 0 AND m.attempts = j.value ->> 1 \
         AND +m.state = 'sending' AND m.lease_owner = j.value ->> 2",
    )
    .bind(event::json(&rows)?)
    .fetch_one(&mut *conn)
    .await
    .context("checking the fences of outcomes")?;
    serde_json::from_str(&fenced).context("reading the fenced outcomes")
}

/// The fenced `UPDATE` of `sent` outcomes, nearly all of a busy daemon's: five parameters a
/// row in a `VALUES` list (see [`values`]) rather than read out of JSON like
/// [`apply_other`].
async fn apply_sent(
    conn: &mut SqliteConnection,
    sent: &[&Outcome],
    now: Millis,
) -> anyhow::Result<()> {
    const SQL: &str = "UPDATE message SET state = 'sent', sent_at = o.column4, \
        provider_id = o.column5, lease_owner = NULL, lease_until = NULL, updated_at = ? \
        FROM (VALUES {values}) AS o WHERE message.id = o.column1 \
        AND message.attempts = o.column2 AND +message.state = 'sending' \
        AND message.lease_owner = o.column3";
    for chunk in sent.chunks(values::MAX_ROWS) {
        let mut update = sqlx::query(values::sql(SQL, 5, values::padded(chunk.len()))).bind(now);
        for o in chunk {
            let provider_id = match &o.result {
                OutcomeKind::Sent { provider_id } => provider_id.as_deref(),
                _ => None,
            };
            update = update
                .bind(o.id)
                .bind(o.attempt)
                .bind(o.owner.as_str())
                .bind(o.started_at + o.duration_ms)
                .bind(provider_id);
        }
        values::pad(update, 5, chunk.len())
            .execute(&mut *conn)
            .await
            .context("recording sent messages")?;
    }
    Ok(())
}

/// The fenced `UPDATE` of every other outcome (retries, failures, skips, expiries,
/// releases), each row's change read from one JSON array ([`change_rows`]).
async fn apply_other(
    conn: &mut SqliteConnection,
    chunk: &[&Outcome],
    now: Millis,
) -> anyhow::Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    const SQL: &str = "WITH o AS (SELECT j.value ->> 0 AS id, j.value ->> 1 AS attempt, \
        j.value ->> 2 AS owner, j.value ->> 3 AS state, j.value ->> 4 AS sent_at, \
        j.value ->> 5 AS provider_id, j.value ->> 6 AS next_at, j.value ->> 7 AS code, \
        j.value ->> 8 AS error, j.value ->> 9 AS give_back FROM json_each(?1) AS j) \
    UPDATE message SET state = o.state, \
        sent_at = COALESCE(o.sent_at, message.sent_at), \
        provider_id = CASE WHEN o.state = 'sent' THEN o.provider_id \
            ELSE message.provider_id END, \
        next_attempt_at = COALESCE(o.next_at, message.next_attempt_at), \
        last_code = CASE WHEN o.error IS NOT NULL AND o.state IN ('pending', 'failed') \
            THEN o.code ELSE message.last_code END, \
        last_error = CASE WHEN o.error IS NOT NULL \
            AND o.state IN ('pending', 'failed', 'skipped') THEN o.error \
            ELSE message.last_error END, \
        attempts = message.attempts - o.give_back, \
        lease_owner = NULL, lease_until = NULL, updated_at = ?2 \
    FROM o WHERE message.id = o.id AND message.attempts = o.attempt \
        AND +message.state = 'sending' AND message.lease_owner = o.owner";
    sqlx::query(SQL)
        .bind(change_rows(chunk)?)
        .bind(now)
        .execute(&mut *conn)
        .await
        .context("recording outcomes")?;
    Ok(())
}

/// Each outcome's fence and [`Change`], as the JSON array [`apply_other`] reads: one row
/// `[id, attempt, owner, state, sent_at, provider_id, next_at, code, error, give_back]`
/// an outcome.
fn change_rows(chunk: &[&Outcome]) -> anyhow::Result<String> {
    let rows: Vec<_> = chunk
        .iter()
        .map(|o| {
            let c = Change::of(o);
            (
                o.id,
                o.attempt,
                o.owner.as_str(),
                c.state,
                c.sent_at,
                c.provider_id,
                c.next_attempt_at,
                c.code,
                c.error,
                c.give_back,
            )
        })
        .collect();
    event::json(&rows)
}

async fn insert_attempts(conn: &mut SqliteConnection, tries: &[Try<'_>]) -> anyhow::Result<()> {
    const SQL: &str = "INSERT INTO attempt (message_id, attempt, started_at, finished_at, \
        outcome, code, error, duration_ms) SELECT * FROM (VALUES {values}) \
        WHERE column1 IS NOT NULL";
    for chunk in tries.chunks(values::MAX_ROWS) {
        let mut insert = sqlx::query(values::sql(SQL, 8, values::padded(chunk.len())));
        for t in chunk {
            insert = insert
                .bind(t.message)
                .bind(t.attempt)
                .bind(t.started_at)
                .bind(t.started_at + t.duration_ms)
                .bind(t.outcome)
                .bind(t.code)
                .bind(t.error)
                .bind(t.duration_ms);
        }
        values::pad(insert, 8, chunk.len())
            .execute(&mut *conn)
            .await
            .context("recording attempts")?;
    }
    Ok(())
}
