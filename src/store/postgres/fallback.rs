//! The step's fallback, decided from the ledger (issue 14, items 2 and 3): the rule of
//! [`crate::store::sqlite`]'s `fallback`, on PostgreSQL.
//!
//! On SQLite one writer makes "no sibling may still reach the recipient, so insert the
//! fallback" atomic. Here two daemons may record the failures of a recipient's last two
//! channels at once, each seeing the other's message still `sending`, and neither would
//! offer the fallback. So each offer first takes a transaction-scoped advisory lock on its
//! recipient (taken in a fixed order, so two batches never wait on each other in a
//! circle): the second daemon checks only after the first committed, and sees its failure.

use anyhow::Context;
use sqlx::PgConnection;

use crate::store::{MessageState, Millis, NewMessage};

/// A sibling that may still reach the recipient (or did): anything but `failed`,
/// `replaced`, or `skipped` for want of an address (a pruned skip's address is gone, so it
/// does not count as one without an address).
const REACHABLE: &str = "NOT (s.state = 'failed' OR s.state = 'replaced' \
    OR (s.state = 'skipped' AND s.address IS NULL AND s.pruned_at IS NULL))";

/// Inserts each of `offers` whose recipient no step channel reached; returns how many went
/// in. Called inside the write transaction that recorded the outcomes they answer.
pub(super) async fn take_over(
    conn: &mut PgConnection,
    offers: &[&NewMessage],
    now: Millis,
) -> anyhow::Result<u64> {
    if offers.is_empty() {
        return Ok(0);
    }
    let mut keys: Vec<String> = offers.iter().map(|f| recipient_key(f)).collect();
    keys.sort();
    keys.dedup();
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) \
         FROM UNNEST($1::text[]) WITH ORDINALITY AS u (k, i) ORDER BY i",
    )
    .bind(&keys)
    .execute(&mut *conn)
    .await
    .context("locking the recipients of fallbacks")?;
    let mut inserted = 0;
    for f in offers {
        if offer(conn, f, now).await? {
            inserted += 1;
        }
    }
    Ok(inserted)
}

/// The recipient of an occurrence's step, as the advisory lock names it.
fn recipient_key(f: &NewMessage) -> String {
    serde_json::json!([f.campaign, f.step, f.occurrence_n, f.recipient]).to_string()
}

/// Inserts one fallback unless a sibling may still reach its recipient; when it went in
/// pending, the failed siblings become `replaced`, each with its event.
async fn offer(conn: &mut PgConnection, f: &NewMessage, now: Millis) -> anyhow::Result<bool> {
    let (state, reason) = f.state.state_and_reason();
    let reason = reason.map(|r| crate::mask::mask_text(r, "").into_owned());
    let sql = format!(
        "INSERT INTO message (tag, campaign, step, occurrence_id, occurrence_at, \
         occurrence_n, recipient, channel, fallback_of, address, state, attempts, \
         next_attempt_at, expires_at, context, last_error, queued_at, updated_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $14, $15, \
         $16, $16 WHERE NOT EXISTS (SELECT 1 FROM message AS s WHERE s.campaign = $2 \
         AND s.step = $3 AND s.occurrence_n = $6 AND s.recipient = $7 \
         AND s.channel <> $8 AND {REACHABLE}) ON CONFLICT DO NOTHING"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(f.tag.as_str())
        .bind(f.campaign.as_str())
        .bind(f.step.as_str())
        .bind(f.occurrence_id)
        .bind(f.occurrence_at)
        .bind(i64::from(f.occurrence_n))
        .bind(f.recipient.as_str())
        .bind(f.channel.as_str())
        .bind(f.fallback_of)
        .bind(f.address.as_deref())
        .bind(state)
        .bind(f.next_attempt_at)
        .bind(f.expires_at)
        .bind(f.context.as_str())
        .bind(reason)
        .bind(now)
        .execute(&mut *conn)
        .await
        .context("inserting a fallback message")?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    if state == MessageState::Pending {
        let detail = format!("the fallback {} took over", f.channel);
        sqlx::query(
            "WITH replaced AS (UPDATE message SET state = 'replaced', updated_at = $1 \
                 WHERE campaign = $2 AND step = $3 AND occurrence_n = $4 AND recipient = $5 \
                 AND channel <> $6 AND state = 'failed' RETURNING id) \
             INSERT INTO message_event (message, at, from_state, to_state, detail) \
             SELECT id, $1, 'failed', 'replaced', $7 FROM replaced",
        )
        .bind(now)
        .bind(f.campaign.as_str())
        .bind(f.step.as_str())
        .bind(i64::from(f.occurrence_n))
        .bind(f.recipient.as_str())
        .bind(f.channel.as_str())
        .bind(detail)
        .execute(&mut *conn)
        .await
        .context("marking messages replaced by a fallback")?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::test_support::*;
    use crate::store::{Outcome, OutcomeKind, Store};

    #[tokio::test]
    async fn two_daemons_failing_a_recipients_last_two_channels_at_once_send_the_fallback() {
        let Some(db) = pg_database().await else {
            return;
        };
        let daemons = [
            Store::open_postgres(&db.url()).await.unwrap(),
            Store::open_postgres(&db.url()).await.unwrap(),
        ];
        let occ = seed(&daemons[0]).await;
        let recipients: Vec<String> = (0..40).map(|i| format!("r{i}")).collect();
        let rows: Vec<_> = recipients
            .iter()
            .flat_map(|r| [message(&occ, r, "email"), message(&occ, r, "zalo")])
            .collect();
        daemons[0].insert_messages(&rows, T0).await.unwrap();
        let lease = Duration::from_secs(60);
        let claimed = daemons[0].claim("w", T0, lease, 80, &[]).await.unwrap();
        // Each recipient's e-mail fails on one daemon and its Zalo message on the other,
        // at the same moment, each offering the SMS fallback.
        let tasks: Vec<_> = daemons
            .iter()
            .zip(["email", "zalo"])
            .map(|(d, channel)| {
                let d = d.clone();
                let mine: Vec<_> = claimed
                    .iter()
                    .filter(|c| c.channel == channel)
                    .cloned()
                    .collect();
                let occ = occ.clone();
                tokio::spawn(async move {
                    for c in mine {
                        let failed = Outcome {
                            id: c.id,
                            attempt: c.attempt,
                            owner: "w".into(),
                            started_at: T0,
                            duration_ms: 1,
                            result: OutcomeKind::Failed {
                                code: None,
                                error: "refused".into(),
                            },
                        };
                        let mut sms = message(&occ, &c.recipient, "sms");
                        sms.fallback_of = Some(c.id);
                        d.record_with_fallbacks(&[failed], &[sms], T0 + 1)
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let store = &daemons[0];
        assert_eq!(
            count(store, "SELECT COUNT(*) FROM message WHERE channel = 'sms'").await,
            40,
            "every recipient got its fallback"
        );
        assert_eq!(
            count(
                store,
                "SELECT COUNT(*) FROM message WHERE state = 'replaced'"
            )
            .await,
            80
        );
        assert_events_complete(store).await;
    }
}
