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
