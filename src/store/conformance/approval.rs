//! [`crate::store::Store`]'s four-eyes approval methods on both backends.

use crate::store::test_support::*;
use crate::store::*;

fn step(account: &str, needed: u8) -> ApprovalStep<'_> {
    ApprovalStep {
        campaign: "c1",
        hash: "h1",
        account,
        needed,
    }
}

on_both! {
    async fn a_version_is_approved_by_another_account_than_the_requester(store) {
        store.request_approval(&step("lan", 1), 10).await.unwrap();
        assert!(
            store
                .version_approval("c1", "h1")
                .await
                .unwrap()
                .is_awaiting()
        );
        let own = store.approve(&step("lan", 1), 11).await.unwrap_err();
        assert_eq!(
            own.downcast_ref::<ApprovalError>(),
            Some(&ApprovalError::OwnRequest("lan".into()))
        );
        let v = store.approve(&step("minh", 1), 12).await.unwrap();
        assert!(v.is_approved());
        assert_eq!(v.approved_at, Some(12));
        assert_eq!(
            store.last_approved("c1").await.unwrap(),
            Some(("h1".into(), 12))
        );
        let trail = store.audit_log(Some("c1")).await.unwrap();
        let named: Vec<(&str, &str, Option<&str>)> = trail
            .iter()
            .map(|r| (r.actor.as_str(), r.action.as_str(), r.content_hash.as_deref()))
            .collect();
        assert_eq!(
            named,
            [("lan", "submit", Some("h1")), ("minh", "approve", Some("h1"))]
        );
    }

    async fn an_approval_without_a_request_is_refused(store) {
        let e = store.approve(&step("minh", 1), 1).await.unwrap_err();
        assert_eq!(
            e.downcast_ref::<ApprovalError>(),
            Some(&ApprovalError::NotRequested("c1".into()))
        );
        assert_eq!(store.last_approved("c1").await.unwrap(), None);
        assert!(store.audit_log(None).await.unwrap().is_empty());
    }

    async fn a_version_that_needs_two_approvers_waits_for_a_second_different_one(store) {
        store.request_approval(&step("lan", 2), 10).await.unwrap();
        store.request_approval(&step("lan", 2), 10).await.unwrap();
        let v = store.approve(&step("minh", 2), 11).await.unwrap();
        assert!(v.is_awaiting());
        let again = store.approve(&step("minh", 2), 12).await.unwrap();
        assert!(
            again.is_awaiting(),
            "the same approver twice is one approval"
        );
        let v = store.approve(&step("hoa", 2), 13).await.unwrap();
        assert!(v.is_approved());
        assert_eq!(v.approved_by, ["minh", "hoa"]);
        assert_eq!(v.requested_by, ["lan"]);
        // One audit row per new row: the repeated request and approval wrote none.
        assert_eq!(store.audit_log(Some("c1")).await.unwrap().len(), 3);
    }

    async fn the_version_approved_last_is_the_one_approved_latest(store) {
        let other = |account| ApprovalStep {
            hash: "h2",
            ..step(account, 1)
        };
        store.request_approval(&step("lan", 1), 10).await.unwrap();
        store.request_approval(&other("lan"), 11).await.unwrap();
        store.approve(&other("minh"), 12).await.unwrap();
        assert_eq!(
            store.last_approved("c1").await.unwrap(),
            Some(("h2".into(), 12))
        );
        store.approve(&step("minh", 1), 13).await.unwrap();
        assert_eq!(
            store.last_approved("c1").await.unwrap(),
            Some(("h1".into(), 13))
        );
        assert_eq!(store.last_approved("c2").await.unwrap(), None);
    }
}
