//! [`crate::store::Store`]'s message methods on both backends.

use std::collections::HashSet;
use std::time::Duration;

use crate::store::test_support::*;
use crate::store::*;

const LEASE: Duration = Duration::from_secs(75);

on_both! {
    async fn inserting_the_same_messages_twice_adds_nothing(store) {
        let occ = seed(&store).await;
        let rows = messages(&occ, 1200);
        assert_eq!(store.insert_messages(&rows, T0).await.unwrap(), 1200);
        assert_eq!(store.insert_messages(&rows, T0 + MINUTE).await.unwrap(), 0);
        // A re-run after a crash half-way through: some old rows, some new.
        let mut more = messages(&occ, 1500);
        more.reverse();
        assert_eq!(
            store.insert_messages(&more, T0 + MINUTE).await.unwrap(),
            300
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM message").await, 1500);
        assert_events_complete(&store).await;
    }

    async fn the_natural_key_holds_even_under_a_different_tag(store) {
        let occ = seed(&store).await;
        let mut twin = message(&occ, "r1", "email");
        store.insert_messages(&[twin.clone()], T0).await.unwrap();
        twin.tag = "0123456789abcdef".to_owned();
        assert_eq!(store.insert_messages(&[twin], T0).await.unwrap(), 0);
    }

    async fn ten_thousand_messages_go_in_with_one_call(store) {
        let occ = seed(&store).await;
        let inserted = store
            .insert_messages(&messages(&occ, 10_000), T0)
            .await
            .unwrap();
        assert_eq!(inserted, 10_000);
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM message WHERE state = 'pending'"
            )
            .await,
            10_000
        );
        assert_events_complete(&store).await;
    }

    async fn a_skipped_message_is_born_skipped_with_its_reason(store) {
        let occ = seed(&store).await;
        let mut m = message(&occ, "r1", "sms");
        m.address = None;
        m.state = NewState::Skipped {
            reason: "no address".to_owned(),
        };
        store.insert_messages(&[m], T0).await.unwrap();
        let id = insert(&store, &occ, 0).await[0];
        let row = seen(&store, id).await;
        assert_eq!(row.state, "skipped");
        assert_eq!(row.last_error.as_deref(), Some("no address"));
        assert!(
            store
                .claim("w", T0, LEASE, 10, &[])
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(events(&store, id).await, vec![]);
        assert_events_complete(&store).await;
    }

    async fn claim_leases_due_rows_oldest_first_and_counts_the_attempt(store) {
        let occ = seed(&store).await;
        let mut rows = messages(&occ, 3);
        rows[0].next_attempt_at = T0 + 2 * MINUTE;
        rows[1].next_attempt_at = T0 + MINUTE;
        rows[2].next_attempt_at = T0 + 10 * MINUTE; // not due yet
        store.insert_messages(&rows, T0).await.unwrap();
        let now = T0 + 5 * MINUTE;
        let claimed = store.claim("w1", now, LEASE, 10, &[]).await.unwrap();
        let recipients: Vec<&str> = claimed.iter().map(|c| c.recipient.as_str()).collect();
        assert_eq!(recipients, ["r1", "r0"]);
        let first = &claimed[0];
        assert_eq!(first.attempt, 1);
        assert_eq!(
            first.message_id,
            crate::store::message_id(first.id, &rows[1].tag)
        );
        assert_eq!(first.context, rows[1].context);
        assert_eq!(first.occurrence_id, occ.id);
        let row = seen(&store, first.id).await;
        assert_eq!(row.state, "sending");
        assert_eq!(row.attempts, 1);
        assert_eq!(row.lease_owner.as_deref(), Some("w1"));
        assert_eq!(row.lease_until, Some(now + 75_000));
        assert_eq!(
            events(&store, first.id).await,
            vec![(Some("pending".to_owned()), "sending".to_owned())]
        );
        // Leased rows are not claimed again.
        assert!(
            store
                .claim("w2", now, LEASE, 10, &[])
                .await
                .unwrap()
                .is_empty()
        );
    }

    async fn claim_takes_only_the_given_channels_and_at_most_the_limit(store) {
        let occ = seed(&store).await;
        let rows: Vec<NewMessage> = (0..6)
            .map(|i| message(&occ, &format!("r{i}"), ["email", "zalo", "sms"][i % 3]))
            .collect();
        store.insert_messages(&rows, T0).await.unwrap();
        let only = ["zalo".to_owned(), "sms".to_owned()];
        let claimed = store.claim("w", T0, LEASE, 3, &only).await.unwrap();
        assert_eq!(claimed.len(), 3);
        assert!(claimed.iter().all(|c| c.channel != "email"));
        let rest = store.claim("w", T0, LEASE, 0, &[]).await.unwrap();
        assert!(rest.is_empty());
        let rest = store.claim("w", T0, LEASE, 10, &[]).await.unwrap();
        assert_eq!(rest.len(), 3);
    }

    async fn claim_leaves_messages_whose_window_closed(store) {
        let occ = seed(&store).await;
        let mut rows = messages(&occ, 2);
        rows[0].expires_at = T0 + MINUTE;
        store.insert_messages(&rows, T0).await.unwrap();
        let claimed = store
            .claim("w", T0 + MINUTE + 1, LEASE, 10, &[])
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].recipient, "r1");
    }

    async fn concurrent_claims_never_hand_one_row_to_two_owners(store) {
        let occ = seed(&store).await;
        insert(&store, &occ, 2000).await;
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let owner = format!("w{w}");
                        let batch = store.claim(&owner, T0, LEASE, 37, &[]).await.unwrap();
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch.into_iter().map(|c| (c.id, c.attempt)));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.await.unwrap());
        }
        let distinct: HashSet<i64> = all.iter().map(|(id, _)| *id).collect();
        assert_eq!(all.len(), 2000);
        assert_eq!(distinct.len(), 2000);
        assert!(all.iter().all(|(_, attempt)| *attempt == 1));
        assert_events_complete(&store).await;
    }

    async fn each_row_has_its_own_message_id_that_leads_back_to_it(store) {
        let occ = seed(&store).await;
        let mut rows = messages(&occ, 3);
        // Even rows whose tags collide get different message ids.
        rows[1].tag = rows[0].tag.clone();
        store.insert_messages(&rows, T0).await.unwrap();
        let ids: Vec<(i64, String, String)> = with_pool!(store, |pool, sql| sqlx::query_as(sql(
            "SELECT id, tag, message_id FROM message ORDER BY id"
        ))
        .fetch_all(pool)
        .await
        .unwrap());
        assert_eq!(ids.len(), 3);
        let distinct: HashSet<&str> = ids.iter().map(|(_, _, m)| m.as_str()).collect();
        assert_eq!(distinct.len(), 3);
        for (id, tag, mid) in &ids {
            assert_eq!(mid, &crate::store::message_id(*id, tag));
            assert_eq!(crate::store::message_row(mid), Some(*id));
        }
    }

    /// Rows of one occurrence go in with their shared columns bound once; rows of several
    /// occurrences column by column. Both must store the same thing.
    async fn rows_of_one_occurrence_and_of_several_are_stored_alike(store) {
        let occ = seed(&store).await;
        let other = store.occurrence("c", "s", 1, T0 + MINUTE).await.unwrap();
        let mut one = messages(&occ, 2);
        one[1].state = NewState::Skipped {
            reason: "no email address".to_owned(),
        };
        one[1].address = None;
        let mut mixed = vec![message(&other, "r0", "email"), message(&occ, "r9", "sms")];
        mixed[1].fallback_of = Some(1);
        assert_eq!(store.insert_messages(&one, T0).await.unwrap(), 2);
        assert_eq!(store.insert_messages(&mixed, T0 + 1).await.unwrap(), 2);
        let columns = "campaign, step, occurrence_id, occurrence_at, occurrence_n, recipient, \
            channel, fallback_of, address, state, next_attempt_at, expires_at, context, \
            last_error, queued_at, updated_at";
        let select = if store.is_postgres() {
            format!("SELECT json_build_array({columns})::text FROM message ORDER BY id")
        } else {
            format!("SELECT json_array({columns}) FROM message ORDER BY id")
        };
        let stored: Vec<String> = with_pool!(store, |pool, sql| sqlx::query_scalar(sql(&select))
            .fetch_all(pool)
            .await
            .unwrap());
        let written = one
            .iter()
            .map(|m| (m, T0))
            .chain(mixed.iter().map(|m| (m, T0 + 1)));
        assert_eq!(stored.len(), 4);
        for (row, (m, now)) in stored.iter().zip(written) {
            let (state, reason) = m.state.state_and_reason();
            let want = serde_json::json!([
                m.campaign,
                m.step,
                m.occurrence_id,
                m.occurrence_at,
                m.occurrence_n,
                m.recipient,
                m.channel,
                m.fallback_of,
                m.address,
                state,
                m.next_attempt_at,
                m.expires_at,
                m.context,
                reason,
                now,
                now
            ]);
            let got: serde_json::Value = serde_json::from_str(row).unwrap();
            assert_eq!(got, want, "{}", m.recipient);
        }
        assert_eq!(store.insert_messages(&one, T0).await.unwrap(), 0);
        assert_eq!(store.insert_messages(&mixed, T0).await.unwrap(), 0);
    }
}
