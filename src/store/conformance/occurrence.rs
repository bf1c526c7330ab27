//! [`crate::store::Store`]'s occurrence methods on both backends.

use crate::store::test_support::*;

on_both! {
    async fn an_occurrence_is_created_once_and_marked_enqueued_once(store) {
        store.upsert_campaign(&campaign("c")).await.unwrap();
        let first = store.occurrence("c", "s", 2, T0).await.unwrap();
        assert_eq!((first.n, first.at, first.enqueued_at), (2, T0, None));
        let again = store.occurrence("c", "s", 2, T0 + MINUTE).await.unwrap();
        assert_eq!(again, first);
        assert_ne!(
            store.occurrence("c", "s", 3, T0).await.unwrap().id,
            first.id
        );
        store.mark_enqueued(first.id, T0 + 5).await.unwrap();
        store.mark_enqueued(first.id, T0 + 9).await.unwrap();
        let done = store.occurrence("c", "s", 2, T0).await.unwrap();
        assert_eq!(done.enqueued_at, Some(T0 + 5));
        assert!(store.mark_enqueued(9999, T0).await.is_err());
    }

    async fn an_occurrence_needs_its_campaign(store) {
        assert!(store.occurrence("ghost", "s", 0, T0).await.is_err());
    }
}

on_both! {
    async fn daemons_asking_for_one_occurrence_at_once_get_one_row_and_enqueue_it_once(store) {
        store.upsert_campaign(&campaign("c")).await.unwrap();
        // Eight daemons start in the same second and each expands occurrence 0 of `s`,
        // as `dispatch::enqueue` does: create or find it, insert its messages, mark it.
        let daemons: Vec<_> = (0..8)
            .map(|d| {
                let store = store.clone();
                tokio::spawn(async move {
                    let occ = store.occurrence("c", "s", 0, T0 + d).await.unwrap();
                    let inserted = store
                        .insert_messages(&messages(&occ, 300), T0 + d)
                        .await
                        .unwrap();
                    store.mark_enqueued(occ.id, T0 + 100 + d).await.unwrap();
                    (occ.id, inserted)
                })
            })
            .collect();
        let mut ids = Vec::new();
        let mut inserted = 0;
        for daemon in daemons {
            let (id, n) = daemon.await.unwrap();
            ids.push(id);
            inserted += n;
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_eq!(inserted, 300);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM occurrence").await, 1);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM message").await, 300);
        let occ = store.find_occurrence("c", "s", 0).await.unwrap().unwrap();
        assert!(occ.enqueued_at.is_some());
        assert!(occ.at >= T0 && occ.at < T0 + 8);
    }
}
