//! `attempt`: recording what claimed tries came to.
//!
//! A batch of outcomes is one statement: the outcomes bound as one array per column, the
//! fenced `UPDATE` of their messages (applied only while a row is still `sending` under
//! the same owner and attempt, docs/reliability.md#rule-2), and, from the rows it moved,
//! their `attempt` rows and their events — one round trip however many outcomes, the
//! batching that took graphile-worker from ~15k to ~180k jobs/s. A step's fallback, when
//! one is offered, follows in the same transaction (`fallback`).

use std::collections::HashSet;

use anyhow::Context;

use super::PgLedger;
use crate::store::outcome::{Change, Try, event_of};
use crate::store::{MessageState, Millis, NewMessage, Outcome};

/// Outcomes per statement: bounds the arrays of one statement.
const RECORD_ROWS: usize = 5_000;

const RECORD: &str = "WITH o AS (SELECT * FROM UNNEST($2::bigint[], $3::bigint[], \
        $4::text[], $5::text[], $6::bigint[], $7::text[], $8::bigint[], $9::text[], \
        $10::text[], $11::bigint[], $12::text[], $13::bigint[], $14::bigint[], \
        $15::text[], $16::text[], $17::text[]) \
        AS o (id, attempt, owner, state, sent_at, provider_id, next_at, code, error, \
        give_back, outcome, started_at, duration_ms, try_code, try_error, detail)), \
    moved AS (UPDATE message SET state = o.state, \
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
        lease_owner = NULL, lease_until = NULL, updated_at = $1 \
        FROM o WHERE message.id = o.id AND message.attempts = o.attempt \
        AND message.state = 'sending' AND message.lease_owner = o.owner \
        RETURNING message.id), \
    tries AS (INSERT INTO attempt (message_id, attempt, started_at, finished_at, outcome, \
        code, error, duration_ms) \
        SELECT o.id, o.attempt, o.started_at, o.started_at + o.duration_ms, o.outcome, \
        o.try_code, o.try_error, o.duration_ms FROM o JOIN moved ON moved.id = o.id \
        WHERE o.outcome IS NOT NULL), \
    events AS (INSERT INTO message_event (message, at, from_state, to_state, detail) \
        SELECT o.id, $1, 'sending', o.state, o.detail FROM o JOIN moved ON moved.id = o.id) \
    SELECT id FROM moved";

impl PgLedger {
    pub(crate) async fn record(&self, outcomes: &[Outcome], now: Millis) -> anyhow::Result<u64> {
        self.record_with_fallbacks(outcomes, &[], now).await
    }

    pub(crate) async fn record_with_fallbacks(
        &self,
        outcomes: &[Outcome],
        fallbacks: &[NewMessage],
        now: Millis,
    ) -> anyhow::Result<u64> {
        // Providers quote recipients in their errors: the ledger keeps them masked. An
        // outcome applies at most once, even when a batch repeats it: the first counts.
        let mut seen = HashSet::with_capacity(outcomes.len());
        let outcomes: Vec<Outcome> = outcomes
            .iter()
            .filter(|o| seen.insert(o.id))
            .map(|o| match o.result.masked() {
                Some(result) => Outcome {
                    result,
                    ..o.clone()
                },
                None => o.clone(),
            })
            .collect();
        if outcomes.is_empty() {
            return Ok(0);
        }
        let mut w = self.write().await?;
        let mut applied = HashSet::with_capacity(outcomes.len());
        for chunk in outcomes.chunks(RECORD_ROWS) {
            applied.extend(apply(&mut w.tx, chunk, now).await?);
        }
        let offers: Vec<&NewMessage> = fallbacks
            .iter()
            .filter(|f| f.fallback_of.is_some_and(|id| applied.contains(&id)))
            .collect();
        super::fallback::take_over(&mut w.tx, &offers, now).await?;
        w.commit().await?;
        Ok(applied.len() as u64)
    }
}

/// The statement [`RECORD`] for one chunk of masked outcomes; returns the ids it moved.
/// Event details are masked like every text the ledger keeps ([`crate::mask`]).
async fn apply(
    conn: &mut sqlx::PgConnection,
    chunk: &[Outcome],
    now: Millis,
) -> anyhow::Result<Vec<i64>> {
    let mask = |text: Option<&str>| text.map(|t| crate::mask::mask_text(t, "").into_owned());
    let n = chunk.len();
    let mut id = Vec::with_capacity(n);
    let mut attempt = Vec::with_capacity(n);
    let mut owner = Vec::with_capacity(n);
    let mut state: Vec<MessageState> = Vec::with_capacity(n);
    let mut sent_at = Vec::with_capacity(n);
    let mut provider_id = Vec::with_capacity(n);
    let mut next_at = Vec::with_capacity(n);
    let mut code = Vec::with_capacity(n);
    let mut error = Vec::with_capacity(n);
    let mut give_back = Vec::with_capacity(n);
    let mut outcome = Vec::with_capacity(n);
    let mut started_at = Vec::with_capacity(n);
    let mut duration_ms = Vec::with_capacity(n);
    let mut try_code = Vec::with_capacity(n);
    let mut try_error = Vec::with_capacity(n);
    let mut detail = Vec::with_capacity(n);
    for o in chunk {
        let c = Change::of(o);
        let t = Try::of(o);
        id.push(o.id);
        attempt.push(i64::from(o.attempt));
        owner.push(o.owner.as_str());
        state.push(c.state);
        sent_at.push(c.sent_at);
        provider_id.push(c.provider_id);
        next_at.push(c.next_attempt_at);
        code.push(c.code);
        error.push(c.error);
        give_back.push(c.give_back);
        outcome.push(t.as_ref().map(|t| t.outcome));
        started_at.push(o.started_at);
        duration_ms.push(o.duration_ms);
        try_code.push(t.as_ref().and_then(|t| t.code));
        try_error.push(t.as_ref().and_then(|t| t.error));
        detail.push(mask(event_of(o).detail.as_deref()));
    }
    sqlx::query_scalar(RECORD)
        .bind(now)
        .bind(id)
        .bind(attempt)
        .bind(owner)
        .bind(state)
        .bind(sent_at)
        .bind(provider_id)
        .bind(next_at)
        .bind(code)
        .bind(error)
        .bind(give_back)
        .bind(outcome)
        .bind(started_at)
        .bind(duration_ms)
        .bind(try_code)
        .bind(try_error)
        .bind(detail)
        .fetch_all(&mut *conn)
        .await
        .context("recording outcomes")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::store::test_support::*;
    use crate::store::{Outcome, OutcomeKind, Store};

    /// Claims and records 50,000 messages, 500 a batch, one channel's as one daemon's pump
    /// does.
    async fn claim_and_record(store: &Store) -> Duration {
        let occ = seed(store).await;
        for chunk in messages(&occ, 50_000).chunks(10_000) {
            store.insert_messages(chunk, T0).await.unwrap();
        }
        let started = Instant::now();
        loop {
            let lease = Duration::from_secs(60);
            let claimed = store
                .claim_channel("w", T0, lease, 500, "c", "email")
                .await
                .unwrap();
            if claimed.is_empty() {
                return started.elapsed();
            }
            let sent: Vec<Outcome> = claimed
                .iter()
                .map(|c| Outcome {
                    id: c.id,
                    attempt: c.attempt,
                    owner: "w".into(),
                    started_at: T0,
                    duration_ms: 1,
                    result: OutcomeKind::Sent {
                        provider_id: Some(format!("p{}", c.id)),
                    },
                })
                .collect();
            store.record(&sent, T0 + 1).await.unwrap();
        }
    }

    /// The ledger's side of delivery on both backends, in one run
    /// (`cargo test --lib claim_and_record_on_both -- --ignored --nocapture`).
    #[tokio::test]
    #[ignore = "a measurement, not a check"]
    async fn claim_and_record_on_both() {
        let (_dir, sqlite) = open().await;
        let on_sqlite = claim_and_record(&sqlite).await;
        let Some((_db, pg)) = open_pg().await else {
            return;
        };
        let on_pg = claim_and_record(&pg).await;
        let rate = |d: Duration| 50_000.0 / d.as_secs_f64();
        eprintln!(
            "claim + record of 50,000 messages, 500 a batch: SQLite {on_sqlite:.2?} \
             ({:.0}/s), PostgreSQL {on_pg:.2?} ({:.0}/s)",
            rate(on_sqlite),
            rate(on_pg)
        );
    }
}
