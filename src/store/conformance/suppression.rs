//! [`crate::store::Store`]'s suppression methods on both backends.

use std::collections::HashSet;

use crate::store::test_support::*;
use crate::store::*;

fn unsubscribe(address: &str) -> Suppression<'_> {
    Suppression {
        address,
        channel_kind: None,
        reason: SuppressionReason::Unsubscribed,
        message: Some("m1"),
    }
}

on_both! {
    async fn a_suppressed_address_is_found_whatever_its_case_and_only_once(store) {
        assert!(!store.is_suppressed("an@example.vn").await.unwrap());
        assert!(
            store
                .suppress(&unsubscribe("An@Example.vn"), T0)
                .await
                .unwrap()
        );
        assert!(
            !store
                .suppress(&unsubscribe("an@example.vn"), T0)
                .await
                .unwrap()
        );
        assert!(store.is_suppressed("an@example.vn").await.unwrap());
        assert!(store.is_suppressed(" AN@EXAMPLE.VN ").await.unwrap());
        assert!(!store.is_suppressed("binh@example.vn").await.unwrap());
        assert_eq!(count(&store, "SELECT COUNT(*) FROM suppression").await, 1);
    }

    async fn suppressed_among_returns_the_given_spellings_across_chunks(store) {
        store.suppress(&unsubscribe("a1@x.vn"), T0).await.unwrap();
        store
            .suppress(&unsubscribe("84912345678"), T0)
            .await
            .unwrap();
        let mut asked: Vec<String> = (0..1200).map(|i| format!("b{i}@x.vn")).collect();
        asked.push("A1@x.vn".into());
        asked.insert(3, "84912345678".into());
        let found = store.suppressed_among(&asked).await.unwrap();
        let expected: HashSet<String> = ["A1@x.vn".to_string(), "84912345678".to_string()].into();
        assert_eq!(found, expected);
        assert!(store.suppressed_among(&[]).await.unwrap().is_empty());
    }

    async fn an_unsubscribe_link_names_its_message(store) {
        let occ = seed(&store).await;
        let m = message(&occ, "r1", "email");
        store
            .insert_messages(std::slice::from_ref(&m), T0)
            .await
            .unwrap();
        let id = message_ids(&store).await.remove(0);
        let target = store.unsubscribe_target(&id).await.unwrap();
        assert_eq!(
            target,
            Some(UnsubscribeTarget {
                campaign: "c".into(),
                channel: "email".into(),
                address: Some("r1@example.test".into()),
            })
        );
        assert_eq!(store.unsubscribe_target("m-none").await.unwrap(), None);
    }
}
