//! [`crate::store::Store`]'s audit methods on both backends.

use crate::store::test_support::*;
use crate::store::*;

fn launch(campaign: &str) -> AuditEntry<'_> {
    AuditEntry {
        actor: "cán bộ truyền thông",
        action: AuditAction::Launch,
        campaign: Some(campaign),
        content_hash: Some("9f2c"),
        audience: Some(312),
        detail: None,
    }
}

on_both! {
    async fn each_action_appends_exactly_one_row_with_its_facts(store) {
        store.audit(&launch("c"), T0).await.unwrap();
        let pause = AuditEntry {
            action: AuditAction::Pause,
            audience: None,
            ..launch("c")
        };
        store.audit(&pause, T0 + MINUTE).await.unwrap();
        store
            .audit(&launch("other"), T0 + 2 * MINUTE)
            .await
            .unwrap();
        let rows = store.audit_log(Some("c")).await.unwrap();
        let seen: Vec<(&str, Millis, Option<u64>)> = rows
            .iter()
            .map(|r| (r.action.as_str(), r.at, r.audience))
            .collect();
        assert_eq!(
            seen,
            vec![("launch", T0, Some(312)), ("pause", T0 + MINUTE, None)]
        );
        assert_eq!(rows[0].actor, "cán bộ truyền thông");
        assert_eq!(rows[0].content_hash.as_deref(), Some("9f2c"));
        assert_eq!(store.audit_log(None).await.unwrap().len(), 3);
    }

    async fn audit_rows_cannot_be_updated_or_deleted_even_by_loa_itself(store) {
        store.audit(&launch("c"), T0).await.unwrap();
        for sql in [
            "UPDATE audit SET actor = 'someone else'",
            "DELETE FROM audit",
            "UPDATE audit SET at = 0 WHERE id = 1",
        ] {
            let err = with_pool!(store, |pool, text| sqlx::query(text(sql))
                .execute(pool)
                .await
                .unwrap_err());
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        let rows = store.audit_log(None).await.unwrap();
        assert_eq!(
            (rows.len(), rows[0].actor.as_str()),
            (1, "cán bộ truyền thông")
        );
    }
}
