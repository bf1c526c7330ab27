//! Helpers for the store's tests: a real SQLite file in a temporary directory or a fresh
//! database on the local PostgreSQL server, seeded rows and checks read straight from the
//! tables.
//!
//! [`on_both!`] turns a test into one per backend: the store's conformance suite. The
//! PostgreSQL one creates its own database on 127.0.0.1:5432 (user `postgres`, trust
//! auth; `LOA_TEST_POSTGRES_URL` names another server's maintenance database) and drops it
//! when the test ends; without a server it prints why and passes, except under `CI=true`,
//! where a missing server fails it.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _, Row};
use tempfile::TempDir;

pub(crate) use super::Store;
use super::{CampaignRow, Millis, NewMessage, NewState, OccurrenceRow, message_tag};

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

/// One test per backend, each with its own fresh `Store` named by the argument:
///
/// ```ignore
/// on_both! {
///     async fn a_claim_leases_due_rows(store) { … }
/// }
/// ```
macro_rules! on_both {
    ($($(#[$meta:meta])* async fn $name:ident($store:ident) $body:block)*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let (_dir, $store) = $crate::store::test_support::open().await;
                $body
            }

            #[tokio::test]
            async fn postgres() {
                let Some((_db, $store)) = $crate::store::test_support::open_pg().await else {
                    return;
                };
                $body
            }
        }
    )*};
}
pub(crate) use on_both;

/// The server's maintenance database, where test databases are created and dropped.
const PG_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database of one test's own on the local PostgreSQL server, dropped (connections and
/// all) on drop, whether the test passed or not.
pub(crate) struct PgDatabase {
    name: String,
    admin: PgConnectOptions,
}

impl PgDatabase {
    /// This database's URL (the admin's, another database).
    pub(crate) fn url(&self) -> String {
        let admin = std::env::var("LOA_TEST_POSTGRES_URL").unwrap_or_else(|_| PG_SERVER.into());
        let base = admin.split('?').next().unwrap_or_default();
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
        format!("{server}/{}", self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime; the drop needs one of its own.
        let admin = self.admin.clone();
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the drop");
            runtime.block_on(async {
                let mut conn = admin.connect().await?;
                sqlx::query(AssertSqlSafe(drop)).execute(&mut conn).await?;
                conn.close().await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("leaving database {} behind: {e}", self.name);
        }
    }
}

/// A new, empty database on the local server; `None` (with the reason printed) when there
/// is none and `CI` is not `true`.
pub(crate) async fn pg_database() -> Option<PgDatabase> {
    let url = std::env::var("LOA_TEST_POSTGRES_URL").unwrap_or_else(|_| PG_SERVER.into());
    let admin: PgConnectOptions = url.parse().expect("a PostgreSQL URL");
    let reached = tokio::time::timeout(Duration::from_secs(5), admin.connect()).await;
    let mut conn = match reached {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return pg_unreachable(&e.to_string()),
        Err(_) => return pg_unreachable("no answer within 5 s"),
    };
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random bytes");
    let name = format!("loa_unit_{:016x}", u64::from_le_bytes(bytes));
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
    conn.close().await.ok();
    Some(PgDatabase { name, admin })
}

fn pg_unreachable(why: &str) -> Option<PgDatabase> {
    let why = format!("no PostgreSQL server at 127.0.0.1:5432 (or LOA_TEST_POSTGRES_URL): {why}");
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{why}; under CI=true the PostgreSQL tests must run");
    }
    eprintln!("skipped: {why}");
    None
}

/// A fresh, migrated PostgreSQL ledger in a database of its own (see [`pg_database`]).
pub(crate) async fn open_pg() -> Option<(PgDatabase, Store)> {
    let db = pg_database().await?;
    let store = Store::open_postgres(&db.url())
        .await
        .expect("open the ledger");
    Some((db, store))
}

/// `sql` written with SQLite's placeholders (`?`, `?N`) in PostgreSQL's (`$N`).
pub(crate) fn pg_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '?' {
            out.push(c);
            continue;
        }
        if chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            n += 1;
            out.push_str(&format!("${n}"));
        }
    }
    out
}

/// Runs `$body` on the store's own pool, with `$sql` turning a SQL text written with
/// SQLite's placeholders into one for that pool: the helpers below serve both backends.
macro_rules! with_pool {
    ($store:expr, |$pool:ident, $sql:ident| $body:expr) => {
        if $store.is_postgres() {
            let $pool = $store.pg_pool();
            let $sql = |text: &str| sqlx::AssertSqlSafe($crate::store::test_support::pg_sql(text));
            $body
        } else {
            let $pool = $store.pool();
            let $sql = |text: &str| sqlx::AssertSqlSafe(text.to_owned());
            $body
        }
    };
}
#[allow(unused_imports)] // The conformance files use it as they grow.
pub(crate) use with_pool;

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
    with_pool!(store, |pool, sql| sqlx::query_scalar(sql(
        "SELECT id FROM message ORDER BY id"
    ))
    .fetch_all(pool)
    .await
    .unwrap())
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
    const SQL: &str = "SELECT state, attempts, next_attempt_at, lease_owner, lease_until, \
        last_error, last_code FROM message WHERE id = ?";
    with_pool!(store, |pool, sql| {
        let row = sqlx::query(sql(SQL))
            .bind(id)
            .fetch_one(pool)
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
    })
}

/// Sets a row's lease directly (with its event), to seed states as a crashed worker
/// would leave them.
pub(crate) async fn force_lease(store: &Store, id: i64, owner: &str, attempts: i64, until: Millis) {
    with_pool!(store, |pool, sql| {
        sqlx::query(sql(
            "INSERT INTO message_event (message, at, from_state, to_state) \
             SELECT id, ?, state, 'sending' FROM message WHERE id = ?",
        ))
        .bind(T0)
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(sql(
            "UPDATE message SET state = 'sending', attempts = ?, lease_owner = ?, \
             lease_until = ? WHERE id = ?",
        ))
        .bind(attempts)
        .bind(owner)
        .bind(until)
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    })
}

/// The (from, to) states of a message's events, oldest first.
pub(crate) async fn events(store: &Store, id: i64) -> Vec<(Option<String>, String)> {
    const SQL: &str =
        "SELECT from_state, to_state FROM message_event WHERE message = ? ORDER BY id";
    with_pool!(store, |pool, sql| sqlx::query(sql(SQL))
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get("from_state"), row.get("to_state")))
        .collect())
}

/// Every message's events form an unbroken chain from its birth state (the row's state
/// when nothing has changed yet, otherwise the first event's `from`, which is `pending`:
/// only pending rows move) to its current state.
pub(crate) async fn assert_events_complete(store: &Store) {
    let rows: Vec<(i64, String)> = with_pool!(store, |pool, sql| sqlx::query_as(sql(
        "SELECT id, state FROM message ORDER BY id"
    ))
    .fetch_all(pool)
    .await
    .unwrap());
    for (id, state) in rows {
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

pub(crate) async fn count(store: &Store, text: &'static str) -> i64 {
    with_pool!(store, |pool, sql| sqlx::query_scalar(sql(text))
        .fetch_one(pool)
        .await
        .unwrap())
}

/// Every message id in the ledger, in row order (message ids are given by the ledger, see
/// [`super::message_id`]).
pub(crate) async fn message_ids(store: &Store) -> Vec<String> {
    with_pool!(store, |pool, sql| sqlx::query_scalar(sql(
        "SELECT message_id FROM message ORDER BY id"
    ))
    .fetch_all(pool)
    .await
    .unwrap())
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
