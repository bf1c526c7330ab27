//! [`crate::store::Store`]'s attempt methods on both backends.

use std::time::Duration;

use crate::store::test_support::*;
use crate::store::*;

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

on_both! {
    async fn a_stale_attempt_is_ignored_while_the_current_one_applies(store) {
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
    async fn a_batch_of_sent_outcomes_of_any_size_applies_whole(store) {
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

    async fn each_outcome_moves_its_message_and_writes_an_attempt_when_a_try_happened(store) {
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
        let row: (String, Option<i64>, Option<String>, Option<String>) =
            with_pool!(store, |pool, sql| sqlx::query_as(sql(
                "SELECT state, sent_at, provider_id, lease_owner FROM message WHERE id = ?"
            ))
            .bind(sent)
            .fetch_one(pool)
            .await
            .unwrap());
        assert_eq!(
            row,
            ("sent".into(), Some(T0 + 1_250), Some("zalo-123".into()), None)
        );

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

        let tries: Vec<(i64, String, Option<String>)> =
            with_pool!(store, |pool, sql| sqlx::query_as(sql(
                "SELECT message_id, outcome, code FROM attempt ORDER BY message_id"
            ))
            .fetch_all(pool)
            .await
            .unwrap());
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
    async fn a_released_outcome_gives_the_attempt_back_and_keeps_the_last_error(store) {
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
        let event: (String, String, String) = with_pool!(store, |pool, sql| sqlx::query_as(sql(
            "SELECT from_state, to_state, detail FROM message_event WHERE message = ? \
             ORDER BY id DESC LIMIT 1"
        ))
        .bind(second.id)
        .fetch_one(pool)
        .await
        .unwrap());
        assert_eq!(
            (event.0.as_str(), event.1.as_str(), event.2.as_str()),
            (
                "sending",
                "pending",
                "released unsent: too little of its lease was left"
            )
        );
        assert_events_complete(&store).await;
        let again = store
            .claim("w", T0 + 2 * MINUTE, LEASE, 1, &[])
            .await
            .unwrap();
        assert_eq!((again.len(), again[0].attempt), (1, 2));
    }

    /// Issue 14 item 16: whatever a provider or a skip quotes, the ledger keeps masked —
    /// the message, its attempt and its event, and a skipped row's reason.
    async fn error_texts_and_skip_reasons_are_masked_before_they_are_stored(store) {
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
        let mut skipped = message(&occ, "r-skip", "sms");
        skipped.address = None;
        skipped.state = NewState::Skipped {
            reason: "`+84 912.000.001` is not a Zalo account".into(),
        };
        store.insert_messages(&[skipped], T0).await.unwrap();

        let texts: Vec<String> = with_pool!(store, |pool, sql| sqlx::query_scalar(sql(
            "SELECT last_error FROM message WHERE last_error IS NOT NULL \
             UNION ALL SELECT error FROM attempt \
             UNION ALL SELECT detail FROM message_event \
             WHERE detail IS NOT NULL AND detail NOT LIKE 'attempt % by %'"
        ))
        .fetch_all(pool)
        .await
        .unwrap());
        assert!(texts.len() >= 5, "{texts:?}");
        for t in &texts {
            assert!(
                t.contains(masked) || t == "`84912***001` is not a Zalo account",
                "{t}"
            );
        }
    }
}
