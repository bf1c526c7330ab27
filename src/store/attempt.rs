//! `attempt`: recording what one claimed try came to.
//!
//! Every write here is fenced: it applies only while the row is still `sending` under the
//! same owner and attempt number it was claimed with (docs/reliability.md#rule-2). A
//! worker whose lease was rescued, released or cancelled meanwhile writes nothing.

use std::collections::HashSet;

use anyhow::Context;
use sqlx::sqlite::SqliteConnection;

use super::event::{self, Event};
use super::values;
use super::{MessageState, Millis, NewMessage, Outcome, OutcomeKind, Store};

/// Outcomes per fenced `UPDATE`: bounds the JSON text of one statement.
const RECORD_ROWS: usize = 2_000;

impl Store {
    /// Applies outcomes in one transaction: each moves its message on (`sent`, back to
    /// `pending` at the retry time, `failed`, `skipped`, `expired`), with an `attempt` row
    /// for tries that reached the provider and an event for every change. Outcomes whose
    /// fence no longer holds are ignored. Returns how many applied.
    pub async fn record(&self, outcomes: &[Outcome], now: Millis) -> anyhow::Result<u64> {
        self.record_with_fallbacks(outcomes, &[], now).await
    }

    /// [`Store::record`], and in the same transaction the step's fallback for each of
    /// `fallbacks` (rows offered by outcomes that ended a step channel's message `failed`,
    /// `fallback_of` naming it) whose outcome applied and whose recipient the ledger then
    /// shows no step channel reached (see [`super::fallback`]).
    pub async fn record_with_fallbacks(
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

/// The columns one outcome writes; `None` keeps the stored value where the outcome has
/// nothing to say (a `sent` keeps the last error of earlier tries).
struct Change<'a> {
    state: MessageState,
    sent_at: Option<Millis>,
    provider_id: Option<&'a str>,
    next_attempt_at: Option<Millis>,
    code: Option<&'a str>,
    error: Option<&'a str>,
    /// 1 when no try happened (skipped, expired): the attempt is given back, as `release`
    /// does.
    give_back: i64,
}

impl<'a> Change<'a> {
    fn of(o: &'a Outcome) -> Change<'a> {
        let base = Change {
            state: MessageState::Sent,
            sent_at: None,
            provider_id: None,
            next_attempt_at: None,
            code: None,
            error: None,
            give_back: 0,
        };
        match &o.result {
            OutcomeKind::Sent { provider_id } => Change {
                sent_at: Some(o.started_at + o.duration_ms),
                provider_id: provider_id.as_deref(),
                ..base
            },
            OutcomeKind::Retry { at, code, error } => Change {
                state: MessageState::Pending,
                next_attempt_at: Some(*at),
                code: code.as_deref(),
                error: Some(error),
                ..base
            },
            OutcomeKind::Failed { code, error } => Change {
                state: MessageState::Failed,
                code: code.as_deref(),
                error: Some(error),
                ..base
            },
            OutcomeKind::Skipped { reason } => Change {
                state: MessageState::Skipped,
                error: Some(reason),
                give_back: 1,
                ..base
            },
            OutcomeKind::Expired => Change {
                state: MessageState::Expired,
                give_back: 1,
                ..base
            },
            // Due as it was, its last error and code kept: nothing was tried.
            OutcomeKind::Released => Change {
                state: MessageState::Pending,
                give_back: 1,
                ..base
            },
        }
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

/// The fenced `UPDATE` of every other outcome (retries, failures, skips, expiries), each
/// row's change read from one JSON array ([`change_rows`]).
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

fn event_of(o: &Outcome) -> Event {
    let (to, detail) = match &o.result {
        OutcomeKind::Sent { provider_id } => (
            MessageState::Sent,
            provider_id.as_ref().map(|id| format!("provider id {id}")),
        ),
        OutcomeKind::Retry { code, error, .. } => {
            (MessageState::Pending, Some(with_code(code, error)))
        }
        OutcomeKind::Failed { code, error } => (MessageState::Failed, Some(with_code(code, error))),
        OutcomeKind::Skipped { reason } => (MessageState::Skipped, Some(reason.clone())),
        OutcomeKind::Expired => (MessageState::Expired, Some("window closed".to_owned())),
        OutcomeKind::Released => (
            MessageState::Pending,
            Some("released unsent: too little of its lease was left".to_owned()),
        ),
    };
    Event {
        message: o.id,
        from: MessageState::Sending,
        to,
        detail,
    }
}

fn with_code(code: &Option<String>, error: &str) -> String {
    match code {
        Some(code) => format!("{code}: {error}"),
        None => error.to_owned(),
    }
}

/// An `attempt` row: a try that reached (or tried to reach) the provider.
struct Try<'a> {
    message: i64,
    attempt: u32,
    started_at: Millis,
    duration_ms: i64,
    outcome: &'static str,
    code: Option<&'a str>,
    error: Option<&'a str>,
}

impl<'a> Try<'a> {
    fn of(o: &'a Outcome) -> Option<Try<'a>> {
        let (outcome, code, error) = match &o.result {
            OutcomeKind::Sent { .. } => ("sent", None, None),
            OutcomeKind::Retry { code, error, .. } => {
                ("transient", code.as_deref(), Some(error.as_str()))
            }
            OutcomeKind::Failed { code, error } => {
                ("permanent", code.as_deref(), Some(error.as_str()))
            }
            OutcomeKind::Skipped { .. } | OutcomeKind::Expired | OutcomeKind::Released => {
                return None;
            }
        };
        Some(Try {
            message: o.id,
            attempt: o.attempt,
            started_at: o.started_at,
            duration_ms: o.duration_ms,
            outcome,
            code,
            error,
        })
    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::Row;

    use super::super::test_support::*;
    use super::super::{Claimed, Outcome, OutcomeKind};

    const LEASE: Duration = Duration::from_secs(75);

    fn outcome(c: &Claimed, owner: &str, result: OutcomeKind) -> Outcome {
        Outcome {
            id: c.id,
            attempt: c.attempt,
            owner: owner.to_owned(),
            started_at: T0 + 1_000,
            duration_ms: 250,
            result,
        }
    }

    #[tokio::test]
    async fn a_stale_attempt_is_ignored_while_the_current_one_applies() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        insert(&store, &occ, 1).await;
        let first = store
            .claim("w1", T0, LEASE, 1, &[])
            .await
            .unwrap()
            .remove(0);
        // w1 hangs; its lease runs out and is rescued; w2 claims attempt 2.
        let later = T0 + 2 * 75_000;
        assert_eq!(store.rescue_expired(later, 5).await.unwrap(), 1);
        let second = store
            .claim("w2", later, LEASE, 1, &[])
            .await
            .unwrap()
            .remove(0);
        assert_eq!(second.attempt, 2);

        let stale = outcome(
            &first,
            "w1",
            OutcomeKind::Failed {
                code: Some("550".into()),
                error: "late".into(),
            },
        );
        let current = outcome(&second, "w2", OutcomeKind::Sent { provider_id: None });
        // The stale outcome also fails under the right attempt number with the wrong owner.
        let mut wrong_owner = current.clone();
        wrong_owner.owner = "w1".to_owned();
        assert_eq!(store.record(&[stale, wrong_owner], later).await.unwrap(), 0);
        assert_eq!(seen(&store, second.id).await.state, "sending");
        assert_eq!(
            store
                .record(std::slice::from_ref(&current), later)
                .await
                .unwrap(),
            1
        );
        assert_eq!(seen(&store, second.id).await.state, "sent");
        // Recording the same outcome again changes nothing.
        assert_eq!(store.record(&[current], later).await.unwrap(), 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM attempt").await, 1);
        assert_events_complete(&store).await;
    }

    /// `sent` outcomes take their own statement, padded to a power of two: every one of an
    /// odd-sized batch applies, and a message sent after a retry keeps the retry's error.
    #[tokio::test]
    async fn a_batch_of_sent_outcomes_of_any_size_applies_whole() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        insert(&store, &occ, 1_003).await;
        let claimed = store.claim("w", T0, LEASE, 1_003, &[]).await.unwrap();
        let retry = outcome(
            &claimed[0],
            "w",
            OutcomeKind::Retry {
                at: T0,
                code: Some("421".into()),
                error: "busy".into(),
            },
        );
        assert_eq!(store.record(&[retry], T0 + 2_000).await.unwrap(), 1);
        let again = store.claim("w", T0 + 3_000, LEASE, 1, &[]).await.unwrap();
        let sent: Vec<Outcome> = again
            .iter()
            .chain(&claimed[1..])
            .map(|c| outcome(c, "w", OutcomeKind::Sent { provider_id: None }))
            .collect();
        assert_eq!(store.record(&sent, T0 + 4_000).await.unwrap(), 1_003);
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM message WHERE state = 'sent'").await,
            1_003
        );
        let first = seen(&store, claimed[0].id).await;
        assert_eq!(
            (first.attempts, first.last_code.as_deref()),
            (2, Some("421"))
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM attempt").await, 1_004);
        assert_events_complete(&store).await;
    }

    #[tokio::test]
    async fn each_outcome_moves_its_message_and_writes_an_attempt_when_a_try_happened() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        insert(&store, &occ, 5).await;
        let claimed = store.claim("w", T0, LEASE, 5, &[]).await.unwrap();
        let results = [
            OutcomeKind::Sent {
                provider_id: Some("zalo-123".into()),
            },
            OutcomeKind::Retry {
                at: T0 + 10 * MINUTE,
                code: Some("451".into()),
                error: "try later".into(),
            },
            OutcomeKind::Failed {
                code: Some("550".into()),
                error: "no such user".into(),
            },
            OutcomeKind::Skipped {
                reason: "unsubscribed".into(),
            },
            OutcomeKind::Expired,
        ];
        let outcomes: Vec<Outcome> = claimed
            .iter()
            .zip(results)
            .map(|(c, r)| outcome(c, "w", r))
            .collect();
        assert_eq!(store.record(&outcomes, T0 + 2_000).await.unwrap(), 5);

        let [sent, retry, failed, skipped, expired] = [0, 1, 2, 3, 4].map(|i| claimed[i].id);
        let row = sqlx::query(
            "SELECT state, sent_at, provider_id, lease_owner FROM message WHERE id = ?",
        )
        .bind(sent)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(row.get::<String, _>("state"), "sent");
        assert_eq!(row.get::<Option<i64>, _>("sent_at"), Some(T0 + 1_250));
        assert_eq!(
            row.get::<Option<String>, _>("provider_id").as_deref(),
            Some("zalo-123")
        );
        assert_eq!(row.get::<Option<String>, _>("lease_owner"), None);

        let row = seen(&store, retry).await;
        assert_eq!(
            (row.state.as_str(), row.next_attempt_at, row.attempts),
            ("pending", T0 + 10 * MINUTE, 1)
        );
        assert_eq!(row.last_code.as_deref(), Some("451"));
        assert_eq!(row.lease_until, None);
        let row = seen(&store, failed).await;
        assert_eq!(
            (row.state.as_str(), row.last_error.as_deref()),
            ("failed", Some("no such user"))
        );
        let row = seen(&store, skipped).await;
        assert_eq!((row.state.as_str(), row.attempts), ("skipped", 0));
        let row = seen(&store, expired).await;
        assert_eq!((row.state.as_str(), row.attempts), ("expired", 0));

        let tries = sqlx::query(
            "SELECT message_id, attempt, outcome, code, finished_at, duration_ms FROM attempt \
             ORDER BY message_id",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        let tries: Vec<(i64, String, Option<String>)> = tries
            .iter()
            .map(|r| (r.get("message_id"), r.get("outcome"), r.get("code")))
            .collect();
        assert_eq!(
            tries,
            vec![
                (sent, "sent".to_owned(), None),
                (retry, "transient".to_owned(), Some("451".to_owned())),
                (failed, "permanent".to_owned(), Some("550".to_owned())),
            ]
        );
        assert_events_complete(&store).await;
        // The retried message comes back when due, as attempt 2.
        assert!(
            store
                .claim("w", T0 + 5 * MINUTE, LEASE, 5, &[])
                .await
                .unwrap()
                .is_empty()
        );
        let again = store
            .claim("w", T0 + 10 * MINUTE, LEASE, 5, &[])
            .await
            .unwrap();
        assert_eq!((again.len(), again[0].id, again[0].attempt), (1, retry, 2));
    }

    /// A message released unsent (its turn came too late in its lease) is due again as it
    /// was: its attempt given back, the last try's error and code kept, no `attempt` row.
    #[tokio::test]
    async fn a_released_outcome_gives_the_attempt_back_and_keeps_the_last_error() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        insert(&store, &occ, 1).await;
        let first = store.claim("w", T0, LEASE, 1, &[]).await.unwrap().remove(0);
        let retry = OutcomeKind::Retry {
            at: T0 + MINUTE,
            code: Some("451".into()),
            error: "try later".into(),
        };
        store
            .record(&[outcome(&first, "w", retry)], T0)
            .await
            .unwrap();
        let second = store
            .claim("w", T0 + MINUTE, LEASE, 1, &[])
            .await
            .unwrap()
            .remove(0);
        assert_eq!(second.attempt, 2);
        let released = outcome(&second, "w", OutcomeKind::Released);
        assert_eq!(store.record(&[released], T0 + 2 * MINUTE).await.unwrap(), 1);

        let row = seen(&store, second.id).await;
        assert_eq!(
            (row.state.as_str(), row.attempts, row.next_attempt_at),
            ("pending", 1, T0 + MINUTE)
        );
        assert_eq!(row.last_error.as_deref(), Some("try later"));
        assert_eq!(row.last_code.as_deref(), Some("451"));
        assert_eq!((row.lease_owner, row.lease_until), (None, None));
        assert_eq!(count(&store, "SELECT COUNT(*) FROM attempt").await, 1);
        assert_events_complete(&store).await;
        let again = store
            .claim("w", T0 + 2 * MINUTE, LEASE, 1, &[])
            .await
            .unwrap();
        assert_eq!((again.len(), again[0].attempt), (1, 2));
    }

    /// Issue 14 item 16: whatever a provider or a skip quotes, the ledger keeps masked —
    /// the message, its attempt and its event, and a skipped row's reason.
    #[tokio::test]
    async fn error_texts_and_skip_reasons_are_masked_before_they_are_stored() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        insert(&store, &occ, 2).await;
        let claimed = store.claim("w", T0, LEASE, 2, &[]).await.unwrap();
        let echo = "400 bad recipient 0912000001 (84 912 000 001) R0.ALICE@EXAMPLE.ORG";
        let masked = "400 bad recipient 84912***001 (84912***001) R0***@EXAMPLE.ORG";
        let results = [
            OutcomeKind::Failed {
                code: Some("400".into()),
                error: echo.into(),
            },
            OutcomeKind::Retry {
                at: T0 + 60_000,
                code: None,
                error: echo.into(),
            },
        ];
        let outcomes: Vec<Outcome> = claimed
            .iter()
            .zip(results)
            .map(|(c, r)| outcome(c, "w", r))
            .collect();
        assert_eq!(store.record(&outcomes, T0 + 2_000).await.unwrap(), 2);
        let mut skipped = super::super::test_support::message(&occ, "r-skip", "sms");
        skipped.address = None;
        skipped.state = super::super::NewState::Skipped {
            reason: "`+84 912.000.001` is not a Zalo account".into(),
        };
        store.insert_messages(&[skipped], T0).await.unwrap();

        let texts: Vec<String> = sqlx::query_scalar(
            "SELECT last_error FROM message WHERE last_error IS NOT NULL \
             UNION ALL SELECT error FROM attempt \
             UNION ALL SELECT detail FROM message_event \
             WHERE detail IS NOT NULL AND detail NOT LIKE 'attempt % by %'",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert!(texts.len() >= 5, "{texts:?}");
        for t in &texts {
            assert!(
                t.contains(masked) || t == "`84912***001` is not a Zalo account",
                "{t}"
            );
        }
    }
}
