//! [`crate::store::Store`]'s health methods on both backends.

use crate::store::test_support::*;

on_both! {
    async fn the_oldest_due_message_is_the_earliest_pending_one_with_an_open_window(store) {
        store.ping().await.unwrap();
        let occ = seed(&store).await;
        assert_eq!(store.oldest_due(T0).await.unwrap(), None);
        let mut rows = messages(&occ, 4);
        rows[0].next_attempt_at = T0 - 3 * MINUTE;
        rows[0].expires_at = T0 - MINUTE; // window closed: not waiting to be sent
        rows[1].next_attempt_at = T0 - 2 * MINUTE;
        rows[2].next_attempt_at = T0 + MINUTE; // not due yet
        rows[3].next_attempt_at = T0 - MINUTE;
        store.insert_messages(&rows, T0).await.unwrap();
        assert_eq!(store.oldest_due(T0).await.unwrap(), Some(T0 - 2 * MINUTE));
        // Once leased it is no longer waiting.
        store
            .claim("w", T0, std::time::Duration::from_secs(60), 1, &[])
            .await
            .unwrap();
        assert_eq!(store.oldest_due(T0).await.unwrap(), Some(T0 - MINUTE));
    }

    async fn the_oldest_due_among_channels_looks_at_those_channels_alone(store) {
        let occ = seed(&store).await;
        let (email, sms) = (("c", "email"), ("c", "sms"));
        assert_eq!(
            store.oldest_due_among(T0, &[email, sms]).await.unwrap(),
            None
        );
        let mut rows = vec![
            message(&occ, "a", "email"),
            message(&occ, "b", "email"),
            message(&occ, "c", "email"),
            message(&occ, "d", "sms"),
            message(&occ, "e", "sms"),
        ];
        rows[0].next_attempt_at = T0 - 3 * MINUTE;
        rows[0].expires_at = T0 - MINUTE; // window closed: not waiting to be sent
        rows[1].next_attempt_at = T0 - 2 * MINUTE;
        rows[2].next_attempt_at = T0 + MINUTE; // not due yet
        rows[3].next_attempt_at = T0 - 5 * MINUTE;
        rows[4].next_attempt_at = T0 - MINUTE;
        store.insert_messages(&rows, T0).await.unwrap();
        let among =
            async |channels: &[(&str, &str)]| store.oldest_due_among(T0, channels).await.unwrap();
        assert_eq!(among(&[email]).await, Some(T0 - 2 * MINUTE));
        assert_eq!(among(&[sms]).await, Some(T0 - 5 * MINUTE));
        assert_eq!(
            among(&[email, sms, ("gone", "sms")]).await,
            Some(T0 - 5 * MINUTE)
        );
        assert_eq!(
            among(&[email, sms]).await,
            store.oldest_due(T0).await.unwrap()
        );
        assert_eq!(among(&[("c", "zalo")]).await, None);
        assert_eq!(among(&[]).await, None);
    }

    async fn state_counts_group_by_campaign_channel_and_state(store) {
        let occ = seed(&store).await;
        let rows = vec![
            message(&occ, "a", "email"),
            message(&occ, "b", "email"),
            message(&occ, "c", "sms"),
        ];
        store.insert_messages(&rows, T0).await.unwrap();
        store
            .claim("w", T0, std::time::Duration::from_secs(60), 1, &[])
            .await
            .unwrap();
        let counts: Vec<(String, String, u64, i64)> = store
            .state_counts()
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.channel, c.state.to_string(), c.count, c.last_change))
            .collect();
        assert_eq!(
            counts,
            vec![
                ("email".into(), "pending".into(), 1, T0),
                ("email".into(), "sending".into(), 1, T0),
                ("sms".into(), "pending".into(), 1, T0),
            ]
        );
    }
}
