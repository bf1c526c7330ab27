//! Provider tokens kept in the database, so a rotated (single-use) Zalo refresh token
//! survives a restart (refresh tokens are single-use: docs/operations.md#zalo-tokens).

use futures::future::BoxFuture;

use crate::channel::TokenStore;
use crate::store::Store;

pub(crate) struct DbTokens {
    store: Store,
}

impl DbTokens {
    pub(crate) fn new(store: Store) -> Self {
        Self { store }
    }
}

impl TokenStore for DbTokens {
    fn get(&self, key: &str) -> BoxFuture<'_, anyhow::Result<Option<String>>> {
        let key = format!("token/{key}");
        Box::pin(async move { self.store.kv_get(&key).await })
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.store
                .kv_put(
                    &format!("token/{key}"),
                    value,
                    chrono::Utc::now().timestamp_millis(),
                )
                .await
        })
    }
}
