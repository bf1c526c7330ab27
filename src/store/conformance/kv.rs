//! [`crate::store::Store`]'s kv methods on both backends.

use crate::store::test_support::*;

on_both! {
    async fn a_setting_round_trips_and_the_last_write_wins(store) {
        assert_eq!(store.kv_get("zalo.refresh_token").await.unwrap(), None);
        store.kv_put("zalo.refresh_token", "r1", T0).await.unwrap();
        store
            .kv_put("zalo.refresh_token", "r2", T0 + 1)
            .await
            .unwrap();
        assert_eq!(
            store.kv_get("zalo.refresh_token").await.unwrap().as_deref(),
            Some("r2")
        );
    }
}
