//! [`crate::store::Store`]'s overview methods on both backends.

use std::time::Duration;

use crate::store::test_support::*;
use crate::store::*;

async fn fail_first(store: &crate::store::Store, error: &str) {
    let c = store
        .claim("w", T0, Duration::from_secs(60), 1, &[])
        .await
        .unwrap();
    let failed = Outcome {
        id: c[0].id,
        attempt: c[0].attempt,
        owner: "w".into(),
        started_at: T0,
        duration_ms: 1,
        result: OutcomeKind::Failed {
            code: Some("550".into()),
            error: error.into(),
        },
    };
    store.record(&[failed], T0 + 7).await.unwrap();
}

on_both! {
    async fn occurrence_figures_count_each_occurrences_messages_by_state(store) {
        let occ = seed(&store).await;
        insert(&store, &occ, 3).await;
        fail_first(&store, "mailbox unavailable").await;
        let later = store.occurrence("c", "s", 1, T0 + MINUTE).await.unwrap();
        store
            .insert_messages(&messages(&later, 2), T0)
            .await
            .unwrap();

        let figures = store.occurrence_figures("c").await.unwrap();
        assert_eq!(figures.len(), 2);
        let (first, second) = (&figures[0], &figures[1]);
        assert_eq!((first.n, first.at), (0, T0));
        assert_eq!((first.counts["pending"], first.counts["failed"]), (2, 1));
        assert_eq!((second.n, second.counts["pending"]), (1, 2));
        assert_eq!(second.counts.len(), MessageState::ALL.len());
        assert!(store.occurrence_figures("none").await.unwrap().is_empty());
        let (status, occurrences) = store.campaign_breakdown("c").await.unwrap();
        assert_eq!(occurrences, figures);
        assert_eq!(status, store.status(Some("c")).await.unwrap());
        let totals = CampaignTotals::of(&store.state_counts().await.unwrap());
        assert_eq!(totals.len(), 1);
        let c = &totals["c"];
        assert_eq!((c.counts["pending"], c.counts["failed"]), (4, 1));
        assert_eq!(
            (c.counts.len(), c.last_activity),
            (MessageState::ALL.len(), T0 + 7)
        );
    }

    async fn the_breakdown_counts_each_channel_and_each_occurrence_from_one_walk(store) {
        let first = seed(&store).await;
        let second = store.occurrence("c", "s", 1, T0 + 1).await.unwrap();
        let rows = vec![
            message(&first, "a", "email"),
            message(&first, "a", "sms"),
            message(&first, "b", "sms"),
            message(&second, "a", "sms"),
        ];
        store.insert_messages(&rows, T0).await.unwrap();
        let (status, occurrences) = store.campaign_breakdown("c").await.unwrap();
        assert_eq!(status, store.status(Some("c")).await.unwrap());
        let by_channel: Vec<(&str, u64)> = status
            .iter()
            .map(|r| (r.channel.as_str(), r.counts["pending"]))
            .collect();
        assert_eq!(by_channel, [("email", 1), ("sms", 3)]);
        let by_occurrence: Vec<(u32, u64)> = occurrences
            .iter()
            .map(|o| (o.n, o.counts["pending"]))
            .collect();
        assert_eq!(by_occurrence, [(0, 3), (1, 1)]);
    }

    async fn failed_messages_and_what_reached_each_recipient_are_read_per_campaign(store) {
        let occ = seed(&store).await;
        insert(&store, &occ, 2).await;
        fail_first(&store, "no such user").await;
        let failed = store.failed_messages("c", 10).await.unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].address.as_deref(), Some("r0@example.test"));
        assert_eq!(failed[0].last_error.as_deref(), Some("no such user"));
        assert_eq!(failed[0].attempts, 1);
        let none = store
            .reached_by_recipient("c", &["s".into()])
            .await
            .unwrap();
        assert!(none.is_empty());
        let c = store
            .claim("w", T0, Duration::from_secs(60), 1, &[])
            .await
            .unwrap();
        let sent = Outcome {
            id: c[0].id,
            attempt: c[0].attempt,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 1,
            result: OutcomeKind::Sent { provider_id: None },
        };
        store.record(&[sent], T0 + 9).await.unwrap();
        let reached = store
            .reached_by_recipient("c", &["s".into()])
            .await
            .unwrap();
        assert_eq!(reached.get("r1"), Some(&1));
        let other = store
            .reached_by_recipient("c", &["t".into()])
            .await
            .unwrap();
        assert!(other.is_empty());
        let rows = store.campaign_rows().await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            store.campaign_row("c").await.unwrap(),
            Some(rows[0].clone())
        );
        assert_eq!(store.campaign_row("x").await.unwrap(), None);
    }
}
