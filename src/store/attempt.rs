//! `attempt`: recording what one claimed try came to.
//!
//! Every write here is fenced: it applies only while the row is still `sending` under the
//! same owner and attempt number it was claimed with (reliability plan §8 rule 2). A
//! worker whose lease was rescued, released or cancelled meanwhile writes nothing.

use anyhow::Context;
use sqlx::sqlite::SqliteConnection;
use sqlx::{QueryBuilder, Sqlite};

use super::event::{self, Event};
use super::{Millis, Outcome, OutcomeKind, Store};

/// An outcome's `UPDATE`: `$set` columns, then the lease ends, under the fence.
macro_rules! fenced {
    ($set:literal) => {
        concat!(
            "UPDATE message SET ",
            $set,
            ", lease_owner = NULL, lease_until = NULL, updated_at = ? \
             WHERE id = ? AND attempts = ? AND state = 'sending' AND lease_owner = ?"
        )
    };
}

impl Store {
    /// Applies outcomes in one transaction: each moves its message on (`sent`, back to
    /// `pending` at the retry time, `failed`, `skipped`, `expired`), with an `attempt` row
    /// for tries that reached the provider and an event for every change. Outcomes whose
    /// fence no longer holds are ignored. Returns how many applied.
    pub async fn record(&self, outcomes: &[Outcome], now: Millis) -> anyhow::Result<u64> {
        if outcomes.is_empty() {
            return Ok(0);
        }
        let mut w = self.write().await?;
        let mut events = Vec::new();
        let mut tries = Vec::new();
        for outcome in outcomes {
            let applied = apply(&mut w.tx, outcome, now)
                .await
                .with_context(|| format!("recording the outcome of message {}", outcome.id))?;
            if applied {
                events.push(event_of(outcome));
                tries.extend(Try::of(outcome));
            }
        }
        insert_attempts(&mut w.tx, &tries).await?;
        let applied = events.len() as u64;
        event::write(&mut w.tx, events, now).await?;
        w.commit().await?;
        Ok(applied)
    }
}

/// The fenced update for one outcome; true when it applied.
async fn apply(conn: &mut SqliteConnection, o: &Outcome, now: Millis) -> anyhow::Result<bool> {
    let finished = o.started_at + o.duration_ms;
    let query = match &o.result {
        OutcomeKind::Sent { provider_id } => {
            sqlx::query(fenced!("state = 'sent', sent_at = ?, provider_id = ?"))
                .bind(finished)
                .bind(provider_id.as_deref())
        }
        OutcomeKind::Retry { at, code, error } => sqlx::query(fenced!(
            "state = 'pending', next_attempt_at = ?, last_code = ?, last_error = ?"
        ))
        .bind(*at)
        .bind(code.as_deref())
        .bind(error.as_str()),
        OutcomeKind::Failed { code, error } => {
            sqlx::query(fenced!("state = 'failed', last_code = ?, last_error = ?"))
                .bind(code.as_deref())
                .bind(error.as_str())
        }
        // No try happened: give the attempt back, as `release` does.
        OutcomeKind::Skipped { reason } => sqlx::query(fenced!(
            "state = 'skipped', attempts = attempts - 1, last_error = ?"
        ))
        .bind(reason.as_str()),
        OutcomeKind::Expired => sqlx::query(fenced!("state = 'expired', attempts = attempts - 1")),
    };
    let done = query
        .bind(now)
        .bind(o.id)
        .bind(i64::from(o.attempt))
        .bind(o.owner.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

fn event_of(o: &Outcome) -> Event {
    let (to, detail) = match &o.result {
        OutcomeKind::Sent { provider_id } => (
            "sent",
            provider_id.as_ref().map(|id| format!("provider id {id}")),
        ),
        OutcomeKind::Retry { code, error, .. } => ("pending", Some(with_code(code, error))),
        OutcomeKind::Failed { code, error } => ("failed", Some(with_code(code, error))),
        OutcomeKind::Skipped { reason } => ("skipped", Some(reason.clone())),
        OutcomeKind::Expired => ("expired", Some("window closed".to_owned())),
    };
    Event {
        message: o.id,
        from: "sending",
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
            OutcomeKind::Skipped { .. } | OutcomeKind::Expired => return None,
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
    for chunk in tries.chunks(500) {
        let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO attempt (message_id, attempt, started_at, finished_at, outcome, code, \
             error, duration_ms) ",
        );
        insert.push_values(chunk, |mut row, t| {
            row.push_bind(t.message)
                .push_bind(i64::from(t.attempt))
                .push_bind(t.started_at)
                .push_bind(t.started_at + t.duration_ms)
                .push_bind(t.outcome)
                .push_bind(t.code)
                .push_bind(t.error)
                .push_bind(t.duration_ms);
        });
        insert
            .build()
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
}
