//! `kv`: small durable settings, such as a Zalo refresh token that must be saved before
//! it is used (Zalo refresh tokens are single-use).

use anyhow::Context;

use super::SqliteLedger;
use crate::store::Millis;

impl SqliteLedger {
    /// The value stored under `key`, if any.
    pub(crate) async fn kv_get(&self, key: &str) -> anyhow::Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM kv WHERE key = ?")
            .bind(key)
            .fetch_optional(self.pool())
            .await
            .with_context(|| format!("reading setting {key:?}"))
    }

    /// Stores `value` under `key`, replacing any previous value; durable on return.
    pub(crate) async fn kv_put(&self, key: &str, value: &str, now: Millis) -> anyhow::Result<()> {
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                 updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .with_context(|| format!("saving setting {key:?}"))?;
        w.commit().await
    }
}
