//! [`crate::store::Store`]'s receipt methods on both backends.

use std::time::Duration;

use crate::store::test_support::*;
use crate::store::*;

/// Three e-mails: r0 `sent` (provider id `p0`), r1 still `sending`, r2 `pending`.
async fn ledger(store: &Store) -> Vec<String> {
    let occ = seed(store).await;
    let rows = messages(&occ, 3);
    store.insert_messages(&rows, T0).await.unwrap();
    let claimed = store
        .claim("w", T0, Duration::from_secs(60), 2, &[])
        .await
        .unwrap();
    record_sent(store, &claimed[0], "p0", T0 + 10).await;
    message_ids(store).await
}

fn delivered<'a>(id: &'a str, refs: Vec<MessageRef<'a>>) -> DeliveryReceipt<'a> {
    DeliveryReceipt {
        source: "webhook/email",
        callback_id: id,
        refs,
        channels: vec!["email"],
        status: ReceiptStatus::Delivered { at: T0 + 500 },
    }
}

on_both! {
    async fn a_receipt_naming_no_channel_moves_nothing(store) {
        let ids = ledger(&store).await;
        let mut receipt = delivered("cb-1", vec![MessageRef::Ours(&ids[0])]);
        receipt.channels = Vec::new();
        assert_eq!(
            store.apply_receipt(&receipt, T0).await.unwrap(),
            ReceiptOutcome::Unmatched
        );
    }

    async fn a_receipt_moves_a_sent_message_once_and_a_replay_writes_nothing(store) {
        let ids = ledger(&store).await;
        let receipt = delivered("cb-1", vec![MessageRef::Ours(&ids[0])]);
        let first = store.apply_receipt(&receipt, T0 + 1_000).await.unwrap();
        let ReceiptOutcome::Applied { id } = first else {
            panic!("not applied: {first:?}");
        };
        let events_before = count(&store, "SELECT COUNT(*) FROM message_event").await;
        assert_eq!(
            store.apply_receipt(&receipt, T0 + 2_000).await.unwrap(),
            ReceiptOutcome::Replay
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM message_event").await,
            events_before
        );
        let (state, delivered_at): (String, Option<i64>) =
            with_pool!(store, |pool, sql| sqlx::query_as(sql("SELECT state, delivered_at FROM message WHERE id = ?"))
                .bind(id)
                .fetch_one(pool)
                .await
                .unwrap());
        assert_eq!(
            (state.as_str(), delivered_at),
            ("delivered", Some(T0 + 500))
        );
        assert_events_complete(&store).await;
    }

    /// One transaction for a burst: each receipt gets its own outcome, in order, and a
    /// callback id seen twice in the burst applies once.
    async fn a_burst_of_receipts_applies_in_one_call_each_with_its_outcome(store) {
        let ids = ledger(&store).await;
        let burst = [
            (
                delivered("cb-a", vec![MessageRef::Ours(&ids[0])]),
                T0 + 1_000,
            ),
            (
                delivered("cb-a", vec![MessageRef::Ours(&ids[0])]),
                T0 + 1_001,
            ),
            (
                delivered("cb-b", vec![MessageRef::Ours(&ids[1])]),
                T0 + 1_002,
            ),
            (
                delivered("cb-c", vec![MessageRef::Ours("m999-0")]),
                T0 + 1_003,
            ),
        ];
        let outcomes = store.apply_receipts(&burst).await.unwrap();
        let sent_id = crate::store::message_row(&ids[0]).unwrap();
        let sending_id = crate::store::message_row(&ids[1]).unwrap();
        assert_eq!(
            outcomes,
            vec![
                ReceiptOutcome::Applied { id: sent_id },
                ReceiptOutcome::Replay,
                ReceiptOutcome::Deferred { id: sending_id },
                ReceiptOutcome::Unmatched,
            ]
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM callback_seen").await, 3);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM receipt_early").await, 1);
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM message WHERE state = 'delivered'"
            )
            .await,
            1
        );
        assert_events_complete(&store).await;
    }

    async fn a_receipt_never_moves_a_message_that_is_not_sent(store) {
        let ids = ledger(&store).await;
        let first = delivered("cb-2", vec![MessageRef::Ours(&ids[0])]);
        store.apply_receipt(&first, T0).await.unwrap();
        // A later "failed" for a delivered message does not regress it.
        let mut failed = delivered("cb-3", vec![MessageRef::Ours(&ids[0])]);
        failed.status = ReceiptStatus::Failed {
            error: "expired at the carrier".into(),
        };
        assert_eq!(
            store.apply_receipt(&failed, T0).await.unwrap(),
            ReceiptOutcome::Unchanged {
                state: MessageState::Delivered
            }
        );
        assert_events_complete(&store).await;
    }

    async fn a_receipt_finds_messages_by_provider_id_but_only_on_its_channel(store) {
        ledger(&store).await;
        let mut other = delivered("cb-1", vec![MessageRef::Provider("p0")]);
        other.channels = vec!["sms"];
        assert_eq!(
            store.apply_receipt(&other, T0).await.unwrap(),
            ReceiptOutcome::Unmatched
        );
        let unknown = delivered("cb-2", vec![MessageRef::Ours("m-nope")]);
        assert_eq!(
            store.apply_receipt(&unknown, T0).await.unwrap(),
            ReceiptOutcome::Unmatched
        );
        let by_provider = delivered(
            "cb-3",
            vec![MessageRef::Ours("m-nope"), MessageRef::Provider("p0")],
        );
        assert!(matches!(
            store.apply_receipt(&by_provider, T0).await.unwrap(),
            ReceiptOutcome::Applied { .. }
        ));
    }

    async fn a_failed_receipt_fails_a_sent_message_with_its_error(store) {
        let ids = ledger(&store).await;
        let mut failed = delivered("cb-1", vec![MessageRef::Ours(&ids[0])]);
        failed.status = ReceiptStatus::Failed {
            error: "unreachable handset".into(),
        };
        store.apply_receipt(&failed, T0).await.unwrap();
        let (state, error): (String, Option<String>) =
            with_pool!(store, |pool, sql| sqlx::query_as(sql("SELECT state, last_error FROM message WHERE message_id = ?"))
                .bind(&ids[0])
                .fetch_one(pool)
                .await
                .unwrap());
        assert_eq!(
            (state.as_str(), error.as_deref()),
            ("failed", Some("unreachable handset"))
        );
        assert_events_complete(&store).await;
    }

    async fn pruning_forgets_only_old_callback_ids(store) {
        let ids = ledger(&store).await;
        store
            .apply_receipt(&delivered("old", vec![MessageRef::Ours(&ids[2])]), T0)
            .await
            .unwrap();
        store
            .apply_receipt(
                &delivered("new", vec![MessageRef::Ours(&ids[2])]),
                T0 + MINUTE,
            )
            .await
            .unwrap();
        assert_eq!(store.prune_callbacks(T0 + 1).await.unwrap(), 1);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM callback_seen").await, 1);
    }

    async fn a_receipt_that_beats_the_record_is_applied_once_the_message_is_sent(store) {
        let ids = ledger(&store).await;
        // r1 is still `sending` under owner w, attempt 1.
        let early = delivered("cb-early", vec![MessageRef::Ours(&ids[1])]);
        let outcome = store.apply_receipt(&early, T0 + 20).await.unwrap();
        let ReceiptOutcome::Deferred { id } = outcome else {
            panic!("not deferred: {outcome:?}");
        };
        assert_eq!(store.apply_early_receipts(T0, T0 + 30).await.unwrap(), 0);
        assert_eq!(seen(&store, id).await.state, "sending");
        let sent = Outcome {
            id,
            attempt: 1,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 5,
            result: OutcomeKind::Sent { provider_id: None },
        };
        assert_eq!(store.record(&[sent], T0 + 40).await.unwrap(), 1);
        assert_eq!(store.apply_early_receipts(T0, T0 + 50).await.unwrap(), 1);
        let (state, delivered_at): (String, Option<i64>) =
            with_pool!(store, |pool, sql| sqlx::query_as(sql("SELECT state, delivered_at FROM message WHERE id = ?"))
                .bind(id)
                .fetch_one(pool)
                .await
                .unwrap());
        assert_eq!(
            (state.as_str(), delivered_at),
            ("delivered", Some(T0 + 500))
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM receipt_early").await, 0);
        assert_events_complete(&store).await;
    }

    async fn an_early_receipt_is_dropped_when_its_message_fails_or_it_grows_stale(store) {
        let ids = ledger(&store).await;
        let sending = delivered("cb-1", vec![MessageRef::Ours(&ids[1])]);
        let pending = delivered("cb-2", vec![MessageRef::Ours(&ids[2])]);
        store.apply_receipt(&sending, T0).await.unwrap();
        store.apply_receipt(&pending, T0 + MINUTE).await.unwrap();
        // The sending one fails for good.
        store
            .set_state(
                "c",
                None,
                &[MessageState::Sending],
                MessageState::Failed,
                "test",
                T0,
            )
            .await
            .unwrap();
        assert_eq!(
            store.apply_early_receipts(T0, T0 + MINUTE).await.unwrap(),
            0
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM receipt_early").await, 1);
        assert_eq!(
            store
                .apply_early_receipts(T0 + 2 * MINUTE, T0 + 2 * MINUTE)
                .await
                .unwrap(),
            0
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM receipt_early").await, 0);
        assert_eq!(
            seen(&store, {
                let id: i64 = with_pool!(store, |pool, sql| sqlx::query_scalar(sql("SELECT id FROM message WHERE message_id = ?"))
                .bind(&ids[1])
                .fetch_one(pool)
                .await
                .unwrap());
                id
            })
            .await
            .state,
            "failed"
        );
    }
}
