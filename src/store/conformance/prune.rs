//! [`crate::store::Store`]'s prune methods on both backends.

use std::time::Duration;

use crate::store::test_support::*;
use crate::store::*;

const DAY: Millis = 86_400_000;

/// recipient, state, address, context, pruned_at
type Kept = (String, String, Option<String>, String, Option<i64>);

on_both! {
    async fn ended_messages_older_than_the_cutoff_lose_their_personal_data_and_counts_stay(store) {
        let occ = seed(&store).await;
        let rows: Vec<_> = (0..5)
            .map(|i| message(&occ, &format!("r{i}"), "email"))
            .collect();
        store.insert_messages(&rows, T0).await.unwrap();
        // r0..r2 are sent at T0, r3 stays pending, r4 is being sent.
        let claimed = store
            .claim("w", T0, Duration::from_secs(60), 4, &[])
            .await
            .unwrap();
        for c in &claimed[..3] {
            record_sent(&store, c, "p", T0).await;
        }
        let before = store.state_counts().await.unwrap();

        // Nothing had ended 60 days before T0.
        let none = store
            .prune_personal_data(T0 - 60 * DAY, T0 + 30 * DAY, 2, |_| {})
            .await
            .unwrap();
        assert_eq!(none.messages, 0);
        assert_eq!(store.prunable(T0 - 60 * DAY).await.unwrap(), 0);
        assert_eq!(store.prunable(T0 + 1).await.unwrap(), 3);

        let mut seen = Vec::new();
        let pruned = store
            .prune_personal_data(T0 + 1, T0 + 91 * DAY, 2, |n| seen.push(n))
            .await
            .unwrap();
        assert_eq!(
            pruned,
            Pruned {
                messages: 3,
                batches: 3
            },
            "5 ids, 2 a batch"
        );
        assert_eq!(seen, [2, 3, 3]);
        assert_eq!(
            store.state_counts().await.unwrap(),
            before,
            "every count stays"
        );

        let kept: Vec<Kept> = with_pool!(store, |pool, sql| sqlx::query_as(sql(
            "SELECT recipient, state, address, context, pruned_at FROM message ORDER BY id"
        ))
        .fetch_all(pool)
        .await
        .unwrap());
        for (recipient, state, address, context, pruned_at) in &kept {
            if state == "sent" {
                assert_eq!(
                    (address.as_deref(), context.as_str(), *pruned_at),
                    (None, "{}", Some(T0 + 91 * DAY)),
                    "{recipient}"
                );
            } else {
                assert!(address.is_some() && context != "{}", "{recipient} {state}");
                assert_eq!(*pruned_at, None);
            }
        }
        let states: Vec<&str> = kept.iter().map(|k| k.1.as_str()).collect();
        assert_eq!(states, ["sent", "sent", "sent", "sending", "pending"]);
        let again = store
            .prune_personal_data(T0 + 1, T0 + 92 * DAY, 2, |_| {})
            .await
            .unwrap();
        assert_eq!(again.messages, 0, "pruning again finds nothing new");
        assert_eq!(store.prunable(T0 + 1).await.unwrap(), 0);
    }

    async fn a_pruned_failure_is_not_put_back_in_the_queue(store) {
        let occ = seed(&store).await;
        store
            .insert_messages(
                &[message(&occ, "a", "email"), message(&occ, "b", "email")],
                T0,
            )
            .await
            .unwrap();
        let claimed = store
            .claim("w", T0, Duration::from_secs(60), 2, &[])
            .await
            .unwrap();
        let failed: Vec<_> = claimed
            .iter()
            .map(|c| crate::store::Outcome {
                id: c.id,
                attempt: c.attempt,
                owner: "w".into(),
                started_at: T0,
                duration_ms: 5,
                result: crate::store::OutcomeKind::Failed {
                    code: Some("550".into()),
                    error: "550 mailbox unavailable".into(),
                },
            })
            .collect();
        assert_eq!(store.record(&failed, T0).await.unwrap(), 2);
        store
            .prune_personal_data(T0 + 1, T0 + 91 * DAY, 1, |_| {})
            .await
            .unwrap();
        let retried = store
            .retry("c", None, MessageState::Failed, T0 + 92 * DAY)
            .await
            .unwrap();
        assert_eq!(retried, 0, "nothing to send it to any more");
    }

    /// Issue 14 item 16: a pruned message's attempts and events keep no provider text.
    async fn pruning_clears_the_texts_of_attempts_and_events_too(store) {
        let occ = seed(&store).await;
        let rows = [message(&occ, "a", "email"), message(&occ, "b", "email")];
        store.insert_messages(&rows, T0).await.unwrap();
        let claimed = store
            .claim("w", T0, Duration::from_secs(60), 2, &[])
            .await
            .unwrap();
        let outcome = |c: &crate::store::Claimed, at: Millis| crate::store::Outcome {
            id: c.id,
            attempt: c.attempt,
            owner: "w".into(),
            started_at: at,
            duration_ms: 5,
            result: crate::store::OutcomeKind::Failed {
                code: Some("550".into()),
                error: "550 mailbox of Nguyen Van A unavailable".into(),
            },
        };
        // `a` ends long before the cutoff, `b` after it.
        store.record(&[outcome(&claimed[0], T0)], T0).await.unwrap();
        store
            .record(&[outcome(&claimed[1], T0 + 10 * DAY)], T0 + 10 * DAY)
            .await
            .unwrap();
        let texts = || async {
            let attempts: Vec<(String, Option<String>)> =
                with_pool!(store, |pool, sql| sqlx::query_as(sql(
                    "SELECT m.recipient, a.error FROM attempt a \
                     JOIN message m ON m.id = a.message_id ORDER BY m.recipient"
                ))
                .fetch_all(pool)
                .await
                .unwrap());
            let events: Vec<(String, Option<String>)> =
                with_pool!(store, |pool, sql| sqlx::query_as(sql(
                    "SELECT m.recipient, e.detail FROM message_event e \
                     JOIN message m ON m.id = e.message WHERE e.to_state = 'failed' \
                     ORDER BY m.recipient"
                ))
                .fetch_all(pool)
                .await
                .unwrap());
            (attempts, events)
        };
        let text = Some("550 mailbox of Nguyen Van A unavailable".to_string());
        let (attempts, events) = texts().await;
        assert_eq!(
            attempts,
            [("a".into(), text.clone()), ("b".into(), text.clone())]
        );
        assert!(
            events
                .iter()
                .all(|(_, d)| d.as_deref().is_some_and(|d| d.contains("Nguyen")))
        );

        let pruned = store
            .prune_personal_data(T0 + DAY, T0 + 91 * DAY, 1, |_| {})
            .await
            .unwrap();
        assert_eq!(pruned.messages, 1);
        let (attempts, events) = texts().await;
        assert_eq!(attempts, [("a".into(), None), ("b".into(), text)]);
        assert_eq!(events[0], ("a".into(), None));
        assert!(events[1].1.as_deref().is_some_and(|d| d.contains("Nguyen")));
    }
}
