//! The step's fallback, decided from the ledger (issue 14, items 2 and 3).
//!
//! A step's fallback channel is for the recipients whom none of the step's channels could
//! reach: each of the recipient's messages of that occurrence has no address (`skipped`
//! at enqueue, no address stored) or ended `failed`. The dispatcher offers a fallback row
//! with every outcome that ends a step channel's message `failed`; it is inserted in the
//! transaction that records that outcome, only when the ledger then shows every sibling
//! unreached, and at most once (the natural key makes a second insert do nothing). The
//! step channels' `failed` messages then become `replaced`: the fallback took over.

use anyhow::Context;
use sqlx::sqlite::SqliteConnection;

use super::event::{self, Detail};
use crate::store::{MessageState, Millis, NewMessage};

/// A sibling that may still reach the recipient (or did): anything but `failed`,
/// `replaced`, or `skipped` for want of an address. A pruned row's address is gone, so a
/// pruned skip does not count as one without an address.
const REACHABLE: &str = "NOT (s.state = 'failed' OR s.state = 'replaced' \
    OR (s.state = 'skipped' AND s.address IS NULL AND s.pruned_at IS NULL))";

/// Inserts each of `offers` whose recipient no step channel reached; returns how many went
/// in. Called inside the write transaction that recorded the outcomes they answer.
pub(super) async fn take_over(
    conn: &mut SqliteConnection,
    offers: &[&NewMessage],
    now: Millis,
) -> anyhow::Result<u64> {
    let mut inserted = 0;
    for f in offers {
        let (state, reason) = f.state.state_and_reason();
        let sql = format!(
            "INSERT INTO message (tag, campaign, step, occurrence_id, occurrence_at, \
             occurrence_n, recipient, channel, fallback_of, address, state, attempts, \
             next_attempt_at, expires_at, context, last_error, queued_at, updated_at) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, ?12, ?13, ?14, ?15, \
             ?16, ?16 WHERE NOT EXISTS (SELECT 1 FROM message AS s WHERE s.campaign = ?2 \
             AND s.step = ?3 AND s.occurrence_n = ?6 AND s.recipient = ?7 \
             AND s.channel <> ?8 AND {REACHABLE}) ON CONFLICT DO NOTHING"
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
            continue;
        }
        inserted += 1;
        if state == MessageState::Pending {
            replace_failed(conn, f, now).await?;
        }
    }
    Ok(inserted)
}

/// The step channels' `failed` messages of the fallback's recipient become `replaced`.
async fn replace_failed(
    conn: &mut SqliteConnection,
    f: &NewMessage,
    now: Millis,
) -> anyhow::Result<()> {
    let ids: String = sqlx::query_scalar(
        "SELECT json_group_array(id) FROM message WHERE campaign = ?1 AND step = ?2 \
         AND occurrence_n = ?3 AND recipient = ?4 AND channel <> ?5 AND state = 'failed'",
    )
    .bind(f.campaign.as_str())
    .bind(f.step.as_str())
    .bind(i64::from(f.occurrence_n))
    .bind(f.recipient.as_str())
    .bind(f.channel.as_str())
    .fetch_one(&mut *conn)
    .await
    .context("finding the messages a fallback replaces")?;
    let ids: Vec<i64> = serde_json::from_str(&ids)?;
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE message SET state = 'replaced', updated_at = ?1 \
         WHERE id IN (SELECT value FROM json_each(?2))",
    )
    .bind(now)
    .bind(event::json(&ids)?)
    .execute(&mut *conn)
    .await
    .context("marking messages replaced by a fallback")?;
    let detail = format!("the fallback {} took over", f.channel);
    let from = Some(MessageState::Failed);
    event::for_rows(conn, &ids, now, from, Detail::Text(Some(&detail))).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MessageState;
    use crate::store::conformance::fallback::{failed, pairs, sms, states, step};
    use crate::store::test_support::*;

    #[tokio::test]
    async fn a_recipient_with_no_email_whom_zalo_failed_gets_the_fallback_and_zalo_is_replaced() {
        let (_dir, store) = open().await;
        let (occ, claimed) = step(&store, false).await;
        let zalo = &claimed[0];
        let offer = sms(&occ, zalo);
        store
            .record_with_fallbacks(&[failed(zalo)], std::slice::from_ref(&offer), T0 + 1)
            .await
            .unwrap();
        assert_eq!(
            states(&store).await,
            pairs(&[
                ("email", "skipped"),
                ("sms", "pending"),
                ("zalo", "replaced")
            ])
        );
        assert_eq!(
            events(&store, zalo.id).await,
            vec![
                (Some("pending".into()), "sending".into()),
                (Some("sending".into()), "failed".into()),
                (Some("failed".into()), "replaced".into())
            ]
        );
        assert_events_complete(&store).await;
        // The same offer again (a repeated batch) adds nothing.
        let mut w = store.sqlite().write().await.unwrap();
        assert_eq!(take_over(&mut w.tx, &[&offer], T0 + 2).await.unwrap(), 0);
        w.commit().await.unwrap();
        assert_eq!(states(&store).await.len(), 3);
        // `replaced` is no failure to list or to retry.
        assert!(store.failed_messages("c", 10).await.unwrap().is_empty());
        assert_eq!(
            store
                .retry("c", None, MessageState::Failed, T0 + 3)
                .await
                .unwrap(),
            0
        );
    }

    #[tokio::test]
    async fn migration_0009_keeps_every_row_and_allows_replaced_and_nothing_else_new() {
        // A ledger as the migrations up to 0008 left it: a pruned message with an attempt
        // and events, and a pending one.
        let dir = tempfile::tempdir().unwrap();
        ledger_before(
            &dir,
            "0009",
            &[
                "INSERT INTO campaign VALUES ('c', 't', 'active', 'h', 'c.yaml', 0)",
                "INSERT INTO occurrence (id, campaign, step, n, at) VALUES (1, 'c', 's', 0, 0)",
                "INSERT INTO message (tag, campaign, step, occurrence_id, occurrence_at, \
                 occurrence_n, recipient, channel, address, state, attempts, next_attempt_at, \
                 expires_at, context, queued_at, updated_at, pruned_at) VALUES \
                 ('00000000000000aa', 'c', 's', 1, 0, 0, 'r1', 'zalo', NULL, 'failed', 1, \
                  0, 9, '{}', 0, 5, 7), \
                 ('00000000000000bb', 'c', 's', 1, 0, 0, 'r2', 'email', 'b@x.vn', 'pending', 0, \
                  0, 9, '{}', 0, 0, NULL)",
                "INSERT INTO attempt (message_id, attempt, started_at, finished_at, outcome, \
                 duration_ms) VALUES (1, 1, 1, 3, 'permanent', 2)",
                "INSERT INTO message_event (message, at, from_state, to_state) VALUES \
                 (1, 1, 'pending', 'sending'), (1, 3, 'sending', 'failed')",
            ],
        )
        .await;
        let store = Store::open(&url(&dir)).await.unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) FROM message").await, 2);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM attempt").await, 1);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM message_event").await, 2);
        assert_eq!(
            message_ids(&store).await,
            ["m1-00000000000000aa", "m2-00000000000000bb"]
        );
        let pruned = "SELECT COUNT(*) FROM message WHERE pruned_at = 7";
        assert_eq!(count(&store, pruned).await, 1);
        let indexes = "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' \
            AND name IN ('message_due', 'message_leased', 'message_provider_id')";
        assert_eq!(count(&store, indexes).await, 3);
        let broken = "SELECT COUNT(*) FROM pragma_foreign_key_check";
        assert_eq!(count(&store, broken).await, 0);
        let set = |sql: &'static str| {
            let pool = store.pool().clone();
            async move { sqlx::query(sql).execute(&pool).await.is_ok() }
        };
        assert!(set("UPDATE message SET state = 'replaced' WHERE id = 1").await);
        assert!(!set("UPDATE message SET state = 'lost' WHERE id = 2").await);
        // Deleting a message still takes its attempts and events with it.
        assert!(set("DELETE FROM message WHERE id = 1").await);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM attempt").await, 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM message_event").await, 0);
    }
}
