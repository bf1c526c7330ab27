//! `kv`: small durable settings (a Zalo refresh token persisted before use).

use anyhow::Context;

use super::PgLedger;
use crate::store::Millis;

impl PgLedger {
    pub(crate) async fn kv_get(&self, key: &str) -> anyhow::Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM kv WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await
            .with_context(|| format!("reading setting {key:?}"))
    }

    pub(crate) async fn kv_put(&self, key: &str, value: &str, now: Millis) -> anyhow::Result<()> {
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) \
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
