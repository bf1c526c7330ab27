//! [`crate::store::Store`]'s pause methods on both backends.

use crate::store::test_support::*;

on_both! {
    async fn an_unknown_campaign_cannot_be_paused(store) {
        assert!(store.hold_campaign("ghost", "admin", T0).await.is_err());
    }
}
