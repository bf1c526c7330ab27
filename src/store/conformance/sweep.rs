//! [`crate::store::Store`]'s sweep methods on both backends.

use std::time::Duration;

use crate::store::test_support::*;
use crate::store::*;

const LEASE: Duration = Duration::from_secs(75);

on_both! {
    async fn rescue_leaves_young_leases_requeues_old_ones_and_fails_exhausted_ones(store) {
        let occ = seed(&store).await;
        let ids = insert(&store, &occ, 4).await;
        let now = T0 + 60 * MINUTE;
        force_lease(&store, ids[0], "alive", 1, now + MINUTE).await; // young
        force_lease(&store, ids[1], "dead", 2, now - MINUTE).await; // old
        force_lease(&store, ids[2], "dead", 5, now - MINUTE).await; // exhausted
        // ids[3] stays pending.
        assert_eq!(store.rescue_expired(now, 5).await.unwrap(), 2);

        let young = seen(&store, ids[0]).await;
        assert_eq!((young.state.as_str(), young.attempts), ("sending", 1));
        assert_eq!(young.lease_owner.as_deref(), Some("alive"));
        let old = seen(&store, ids[1]).await;
        assert_eq!(
            (old.state.as_str(), old.attempts, old.next_attempt_at),
            ("pending", 2, now)
        );
        assert_eq!((old.lease_owner, old.lease_until), (None, None));
        let exhausted = seen(&store, ids[2]).await;
        assert_eq!(
            (exhausted.state.as_str(), exhausted.attempts),
            ("failed", 5)
        );
        assert!(exhausted.last_error.unwrap().contains("lease expired"));
        assert_eq!(seen(&store, ids[3]).await.state, "pending");
        // The re-queued row's next claim is attempt 3.
        let next = store.claim("w", now, LEASE, 10, &[]).await.unwrap();
        let requeued = next.iter().find(|c| c.id == ids[1]).unwrap();
        assert_eq!((next.len(), requeued.attempt), (2, 3));
        assert_events_complete(&store).await;
    }

    async fn release_gives_leases_back_with_their_attempt_uncounted(store) {
        let occ = seed(&store).await;
        insert(&store, &occ, 5).await;
        let mine = store.claim("me", T0, LEASE, 3, &[]).await.unwrap();
        let theirs = store.claim("them", T0, LEASE, 2, &[]).await.unwrap();
        assert_eq!(store.release("me", T0 + 1_000).await.unwrap(), 3);
        for c in &mine {
            let row = seen(&store, c.id).await;
            assert_eq!((row.state.as_str(), row.attempts), ("pending", 0));
            assert_eq!(row.lease_owner, None);
        }
        for c in &theirs {
            assert_eq!(seen(&store, c.id).await.state, "sending");
        }
        let again = store
            .claim("me2", T0 + 2_000, LEASE, 10, &[])
            .await
            .unwrap();
        assert_eq!(again.len(), 3);
        assert!(again.iter().all(|c| c.attempt == 1));
        assert_events_complete(&store).await;
    }

    async fn pending_messages_expire_once_their_window_closes(store) {
        let occ = seed(&store).await;
        let mut rows = messages(&occ, 3);
        rows[0].expires_at = T0 + MINUTE;
        rows[1].expires_at = T0 + MINUTE;
        store.insert_messages(&rows, T0).await.unwrap();
        let ids = insert(&store, &occ, 0).await;
        // One of the closing ones is in flight: it is the worker's to decide.
        store.claim("w", T0, LEASE, 1, &[]).await.unwrap();
        assert_eq!(store.expire_closed(T0 + MINUTE).await.unwrap(), 0);
        assert_eq!(store.expire_closed(T0 + MINUTE + 1).await.unwrap(), 1);
        assert_eq!(seen(&store, ids[0]).await.state, "sending");
        assert_eq!(seen(&store, ids[1]).await.state, "expired");
        assert_eq!(seen(&store, ids[2]).await.state, "pending");
        assert_events_complete(&store).await;
    }

    async fn retry_puts_failed_messages_back_with_attempts_reset_and_error_kept(store) {
        let occ = seed(&store).await;
        let ids = insert(&store, &occ, 3).await;
        force_lease(&store, ids[0], "dead", 5, T0).await;
        force_lease(&store, ids[1], "dead", 5, T0).await;
        store.rescue_expired(T0 + 1, 5).await.unwrap();
        let now = T0 + 60 * MINUTE;
        assert_eq!(
            store
                .retry("c", Some("nope"), MessageState::Failed, now)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .retry("c", None, MessageState::Failed, now)
                .await
                .unwrap(),
            2
        );
        let row = seen(&store, ids[0]).await;
        assert_eq!(
            (row.state.as_str(), row.attempts, row.next_attempt_at),
            ("pending", 0, now)
        );
        assert!(row.last_error.is_some());
        assert!(
            store
                .retry("c", None, MessageState::Sending, now)
                .await
                .is_err()
        );
        // Pause and resume: cancelled with a reason, then retried from cancelled.
        let paused = store
            .set_state(
                "c",
                None,
                &[MessageState::Pending],
                MessageState::Cancelled,
                "paused",
                now,
            )
            .await
            .unwrap();
        assert_eq!(paused, 3);
        assert_eq!(
            store
                .retry("c", None, MessageState::Cancelled, now)
                .await
                .unwrap(),
            3
        );
        assert_events_complete(&store).await;
    }

    async fn cancelling_a_step_moves_only_its_open_messages_and_fences_live_leases(store) {
        let occ = seed(&store).await;
        let other = store.occurrence("c", "other", 0, T0).await.unwrap();
        insert(&store, &occ, 3).await;
        store
            .insert_messages(&messages(&other, 2), T0)
            .await
            .unwrap();
        let live = store.claim("w", T0, LEASE, 1, &[]).await.unwrap().remove(0);
        let moved = store
            .set_state(
                "c",
                Some("s"),
                &[MessageState::Pending, MessageState::Sending],
                MessageState::Cancelled,
                "step removed",
                T0,
            )
            .await
            .unwrap();
        assert_eq!(moved, 3);
        let by_state = count(
            &store,
            "SELECT COUNT(*) FROM message WHERE step = 'other' AND state = 'pending'",
        )
        .await;
        assert_eq!(by_state, 2);
        let late = Outcome {
            id: live.id,
            attempt: live.attempt,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 1,
            result: OutcomeKind::Sent { provider_id: None },
        };
        assert_eq!(store.record(&[late], T0).await.unwrap(), 0);
        assert_eq!(seen(&store, live.id).await.state, "cancelled");
        let detail: String = with_pool!(store, |pool, sql| sqlx::query_scalar(sql(
            "SELECT detail FROM message_event WHERE message = ? ORDER BY id DESC LIMIT 1"
        ))
        .bind(live.id)
        .fetch_one(pool)
        .await
        .unwrap());
        assert_eq!(detail, "step removed");
        // A word that is not a state is refused before it reaches the ledger.
        assert!("paused".parse::<MessageState>().is_err());
        assert_events_complete(&store).await;
    }
}
