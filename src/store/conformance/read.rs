//! [`crate::store::Store`]'s read methods on both backends.

use std::time::Duration;

use crate::store::test_support::*;
use crate::store::*;

const LEASE: Duration = Duration::from_secs(75);

on_both! {
    async fn status_counts_every_state_by_step_and_channel(store) {
        let occ = seed(&store).await;
        let mut rows = messages(&occ, 4);
        rows.push(message(&occ, "r0", "zalo"));
        store.insert_messages(&rows, T0).await.unwrap();
        store.upsert_campaign(&campaign("d")).await.unwrap();
        let other = store.occurrence("d", "s", 0, T0).await.unwrap();
        store
            .insert_messages(&messages(&other, 1), T0)
            .await
            .unwrap();
        let c = store
            .claim("w", T0, LEASE, 2, &["email".into()])
            .await
            .unwrap();
        let sent = Outcome {
            id: c[0].id,
            attempt: 1,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 5,
            result: OutcomeKind::Sent { provider_id: None },
        };
        store.record(&[sent], T0).await.unwrap();

        let status = store.status(Some("c")).await.unwrap();
        let keys: Vec<(&str, &str)> = status
            .iter()
            .map(|s| (s.step.as_str(), s.channel.as_str()))
            .collect();
        assert_eq!(keys, [("s", "email"), ("s", "zalo")]);
        let email = &status[0].counts;
        assert_eq!(email.len(), MessageState::ALL.len());
        assert_eq!(
            (email["pending"], email["sending"], email["sent"]),
            (2, 1, 1)
        );
        assert_eq!(email["failed"], 0);
        assert_eq!(status[1].counts["pending"], 1);
        assert_eq!(store.status(None).await.unwrap().len(), 3);
        assert!(store.status(Some("none")).await.unwrap().is_empty());
    }

    async fn the_report_row_by_row_stops_at_the_first_error_of_its_reader(store) {
        let occ = seed(&store).await;
        store.insert_messages(&messages(&occ, 5), T0).await.unwrap();
        let mut seen = Vec::new();
        let n = store
            .report_each("c", |r| {
                seen.push(r.recipient);
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(n, 5);
        let whole: Vec<String> = store
            .report("c")
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.recipient)
            .collect();
        assert_eq!(seen, whole);
        let mut calls = 0;
        let err = store
            .report_each("c", |_| {
                calls += 1;
                anyhow::ensure!(calls < 2, "stdout closed");
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!((calls, err.to_string()), (2, "stdout closed".to_owned()));
    }

    async fn report_has_the_spec_columns_for_each_message(store) {
        let occ = seed(&store).await;
        let mut rows = messages(&occ, 2);
        rows[1].address = None;
        store.insert_messages(&rows, T0).await.unwrap();
        let c = store.claim("w", T0 + 5, LEASE, 1, &[]).await.unwrap();
        let failed = Outcome {
            id: c[0].id,
            attempt: 1,
            owner: "w".into(),
            started_at: T0 + 10,
            duration_ms: 5,
            result: OutcomeKind::Failed {
                code: Some("550".into()),
                error: "mailbox unavailable".into(),
            },
        };
        store.record(&[failed], T0 + 20).await.unwrap();
        let report = store.report("c").await.unwrap();
        assert_eq!(report.len(), 2);
        let r = &report[0];
        assert_eq!(
            (r.campaign.as_str(), r.step.as_str(), r.occurrence_at),
            ("c", "s", T0)
        );
        assert_eq!(
            (
                r.recipient.as_str(),
                r.channel.as_str(),
                r.address.as_deref()
            ),
            ("r0", "email", Some("r0@example.test"))
        );
        assert_eq!((r.state.as_str(), r.attempts), ("failed", 1));
        assert_eq!(r.last_error.as_deref(), Some("mailbox unavailable"));
        assert_eq!((r.queued_at, r.sent_at, r.delivered_at), (T0, None, None));
        assert_eq!(
            (report[1].address.as_deref(), report[1].state.as_str()),
            (None, "pending")
        );
    }

    async fn a_campaign_stays_open_while_any_message_is_pending_or_sending(store) {
        let occ = seed(&store).await;
        insert(&store, &occ, 2).await;
        assert_eq!(store.open_count("c").await.unwrap(), 2);
        let c = store.claim("w", T0, LEASE, 1, &[]).await.unwrap();
        assert_eq!(store.open_count("c").await.unwrap(), 2);
        store
            .set_state(
                "c",
                None,
                &[MessageState::Pending],
                MessageState::Cancelled,
                "done",
                T0,
            )
            .await
            .unwrap();
        assert_eq!(store.open_count("c").await.unwrap(), 1);
        let expired = Outcome {
            id: c[0].id,
            attempt: 1,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 0,
            result: OutcomeKind::Expired,
        };
        store.record(&[expired], T0).await.unwrap();
        assert_eq!(store.open_count("c").await.unwrap(), 0);
        assert_eq!(store.open_count("unknown").await.unwrap(), 0);
    }

    async fn next_due_is_the_earliest_pending_message_whose_window_is_open(store) {
        assert_eq!(store.next_due(T0).await.unwrap(), None);
        let occ = seed(&store).await;
        let mut rows = messages(&occ, 3);
        rows[0].next_attempt_at = T0 - MINUTE;
        rows[0].expires_at = T0 - 1; // closed: waits for expire_closed, not for a send
        rows[1].next_attempt_at = T0 + 3 * MINUTE;
        rows[2].next_attempt_at = T0 + 2 * MINUTE;
        store.insert_messages(&rows, T0).await.unwrap();
        assert_eq!(store.next_due(T0).await.unwrap(), Some(T0 + 2 * MINUTE));
        store
            .claim("w", T0 + 2 * MINUTE, LEASE, 1, &[])
            .await
            .unwrap();
        assert_eq!(store.next_due(T0).await.unwrap(), Some(T0 + 3 * MINUTE));
    }
}
