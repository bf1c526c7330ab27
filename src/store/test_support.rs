//! Helpers for the store's tests: a real SQLite file in a temporary directory, seeded rows
//! and checks read straight from the tables.

use sqlx::Row;
use tempfile::TempDir;

use super::{CampaignRow, Millis, NewMessage, NewState, OccurrenceRow, Store, message_tag};

/// 2026-09-07 08:00 +07:00, a Monday of the campaign.
pub(crate) const T0: Millis = 1_788_742_800_000;
pub(crate) const MINUTE: Millis = 60_000;

/// A fresh ledger in its own directory (kept alive by the returned guard).
pub(crate) async fn open() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Store::open(&url(&dir)).await.expect("open the ledger");
    (dir, store)
}

pub(crate) fn url(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.path().join("loa.db").display())
}

pub(crate) fn campaign(id: &str) -> CampaignRow {
    CampaignRow {
        id: id.to_owned(),
        title: "BHYT học sinh, sinh viên".to_owned(),
        status: "active".to_owned(),
        content_hash: "sha256:abc".to_owned(),
        file: format!("campaigns/{id}.yaml"),
    }
}

/// A campaign `c` with occurrence 0 of step `s` at [`T0`].
pub(crate) async fn seed(store: &Store) -> OccurrenceRow {
    store.upsert_campaign(&campaign("c")).await.unwrap();
    store.occurrence("c", "s", 0, T0).await.unwrap()
}

/// A pending e-mail to `recipient`, due at [`T0`], open for a day.
pub(crate) fn message(occ: &OccurrenceRow, recipient: &str, channel: &str) -> NewMessage {
    NewMessage {
        tag: message_tag(&occ.campaign, &occ.step, occ.n, recipient, channel),
        campaign: occ.campaign.clone(),
        step: occ.step.clone(),
        occurrence_id: occ.id,
        occurrence_at: occ.at,
        occurrence_n: occ.n,
        recipient: recipient.to_owned(),
        channel: channel.to_owned(),
        fallback_of: None,
        address: Some(format!("{recipient}@example.test")),
        state: NewState::Pending,
        next_attempt_at: T0,
        expires_at: T0 + 24 * 60 * MINUTE,
        context: format!(r#"{{"row":{{"key":"{recipient}","name":"Nguyễn Văn A"}}}}"#),
    }
}

/// `n` pending e-mails to recipients `r0`, `r1`, …
pub(crate) fn messages(occ: &OccurrenceRow, n: usize) -> Vec<NewMessage> {
    (0..n)
        .map(|i| message(occ, &format!("r{i}"), "email"))
        .collect()
}

/// Inserts `n` pending e-mails and returns their row ids, in insertion order.
pub(crate) async fn insert(store: &Store, occ: &OccurrenceRow, n: usize) -> Vec<i64> {
    store.insert_messages(&messages(occ, n), T0).await.unwrap();
    sqlx::query_scalar("SELECT id FROM message ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

/// One message's row, as the tests look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Millis>,
    pub last_error: Option<String>,
    pub last_code: Option<String>,
}

pub(crate) async fn seen(store: &Store, id: i64) -> Seen {
    let row = sqlx::query(
        "SELECT state, attempts, next_attempt_at, lease_owner, lease_until, last_error, \
         last_code FROM message WHERE id = ?",
    )
    .bind(id)
    .fetch_one(store.pool())
    .await
    .unwrap();
    Seen {
        state: row.get("state"),
        attempts: row.get("attempts"),
        next_attempt_at: row.get("next_attempt_at"),
        lease_owner: row.get("lease_owner"),
        lease_until: row.get("lease_until"),
        last_error: row.get("last_error"),
        last_code: row.get("last_code"),
    }
}

/// Sets a row's lease directly (with its event), to seed states as a crashed worker
/// would leave them.
pub(crate) async fn force_lease(store: &Store, id: i64, owner: &str, attempts: i64, until: Millis) {
    sqlx::query(
        "INSERT INTO message_event (message, at, from_state, to_state) \
         SELECT id, ?, state, 'sending' FROM message WHERE id = ?",
    )
    .bind(T0)
    .bind(id)
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(
        "UPDATE message SET state = 'sending', attempts = ?, lease_owner = ?, lease_until = ? \
         WHERE id = ?",
    )
    .bind(attempts)
    .bind(owner)
    .bind(until)
    .bind(id)
    .execute(store.pool())
    .await
    .unwrap();
}

/// The (from, to) states of a message's events, oldest first.
pub(crate) async fn events(store: &Store, id: i64) -> Vec<(Option<String>, String)> {
    sqlx::query("SELECT from_state, to_state FROM message_event WHERE message = ? ORDER BY id")
        .bind(id)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get("from_state"), row.get("to_state")))
        .collect()
}

/// Every message's events form an unbroken chain from its birth state (the row's state
/// when nothing has changed yet, otherwise the first event's `from`, which is `pending`:
/// only pending rows move) to its current state.
pub(crate) async fn assert_events_complete(store: &Store) {
    let rows = sqlx::query("SELECT id, state FROM message ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    for row in rows {
        let id: i64 = row.get("id");
        let state: String = row.get("state");
        let chain = events(store, id).await;
        let Some(first) = chain.first() else {
            assert!(
                ["pending", "skipped"].contains(&state.as_str()),
                "message {id} is {state} without any event"
            );
            continue;
        };
        assert_eq!(
            first.0.as_deref(),
            Some("pending"),
            "message {id}: {chain:?}"
        );
        for pair in chain.windows(2) {
            assert_eq!(
                pair[1].0.as_ref(),
                Some(&pair[0].1),
                "message {id}: {chain:?}"
            );
        }
        assert_eq!(chain.last().unwrap().1, state, "message {id}: {chain:?}");
    }
}

pub(crate) async fn count(store: &Store, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Every message id in the ledger, in row order (message ids are given by the ledger, see
/// [`super::message_id`]).
pub(crate) async fn message_ids(store: &Store) -> Vec<String> {
    sqlx::query_scalar("SELECT message_id FROM message ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

/// Records the claimed message `c` as `sent` at `at`, with `provider_id`.
pub(crate) async fn record_sent(store: &Store, c: &super::Claimed, provider_id: &str, at: Millis) {
    let sent = super::Outcome {
        id: c.id,
        attempt: c.attempt,
        owner: "w".into(),
        started_at: T0,
        duration_ms: 5,
        result: super::OutcomeKind::Sent {
            provider_id: Some(provider_id.into()),
        },
    };
    assert_eq!(store.record(&[sent], at).await.unwrap(), 1);
}

/// Writes `rows` (SQL statements) into a new ledger at `dir` that has only the migrations
/// named below `first_not_applied` (e.g. `"0009"`), as an older loa left it; opening it
/// with [`Store::open`] then applies the rest. For tests of a migration that rebuilds a
/// table.
pub(crate) async fn ledger_before(dir: &TempDir, first_not_applied: &str, rows: &[&'static str]) {
    use std::str::FromStr;

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    let before = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir("migrations/sqlite").unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < first_not_applied {
            std::fs::copy(&path, before.path().join(name)).unwrap();
        }
    }
    let options = SqliteConnectOptions::from_str(&url(dir))
        .unwrap()
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let old = sqlx::migrate::Migrator::new(before.path()).await.unwrap();
    old.run(&pool).await.unwrap();
    for sql in rows {
        sqlx::query(*sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
}
