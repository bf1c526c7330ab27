//! [`crate::store::Store`]'s account methods on both backends.

use crate::account::{PasswordHash, Role};
use crate::store::test_support::*;
use crate::store::*;

fn phc(text: &str) -> PasswordHash {
    PasswordHash::from_stored(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${text}"))
}

on_both! {
    async fn an_account_is_added_once_listed_by_name_and_keeps_its_hash(store) {
        assert!(!store.has_accounts().await.unwrap());
        store
            .add_account("lan", Role::Operator, &phc("a"), T0)
            .await
            .unwrap();
        store
            .add_account("binh", Role::Viewer, &phc("b"), T0 + 1)
            .await
            .unwrap();
        let again = store
            .add_account("lan", Role::Admin, &phc("c"), T0 + 2)
            .await;
        let err = again.unwrap_err();
        assert_eq!(
            err.downcast_ref::<AccountError>(),
            Some(&AccountError::Exists("lan".into()))
        );
        assert!(err.to_string().contains("loa user passwd lan"), "{err}");
        let all = store.accounts().await.unwrap();
        let names: Vec<(&str, Role)> = all.iter().map(|a| (a.name.as_str(), a.role)).collect();
        assert_eq!(names, [("binh", Role::Viewer), ("lan", Role::Operator)]);
        let lan = store.account("lan").await.unwrap().unwrap();
        assert_eq!((lan.password_hash, lan.password_at), (phc("a"), T0));
        assert!(store.has_accounts().await.unwrap());
        assert_eq!(store.account("nobody").await.unwrap(), None);
    }

    async fn a_new_password_replaces_the_hash_and_disabling_keeps_the_first_time(store) {
        store
            .add_account("lan", Role::Admin, &phc("a"), T0)
            .await
            .unwrap();
        store
            .set_password("lan", &phc("new"), T0 + MINUTE)
            .await
            .unwrap();
        assert!(store.disable_account("lan", T0 + 2 * MINUTE).await.unwrap());
        assert!(!store.disable_account("lan", T0 + 3 * MINUTE).await.unwrap());
        let lan = store.account("lan").await.unwrap().unwrap();
        assert_eq!(lan.password_hash, phc("new"));
        assert_eq!(lan.password_at, T0 + MINUTE);
        assert_eq!(lan.disabled_at, Some(T0 + 2 * MINUTE));
        assert!(lan.is_disabled());
        for unknown in [
            store
                .set_password("ghost", &phc("x"), T0)
                .await
                .unwrap_err(),
            store.disable_account("ghost", T0).await.unwrap_err(),
        ] {
            assert_eq!(
                unknown.downcast_ref::<AccountError>(),
                Some(&AccountError::Unknown("ghost".into()))
            );
        }
    }

    async fn the_ledger_refuses_a_role_it_does_not_know(store) {
        let err = with_pool!(store, |pool, sql| sqlx::query(sql(
            "INSERT INTO account (name, role, password_hash, created_at, password_at) \
             VALUES ('x', 'root', 'h', 0, 0)"
        ))
        .execute(pool)
        .await
        .unwrap_err()
        .to_string());
        assert!(err.contains("CHECK") || err.contains("check constraint"), "{err}");
    }
}
