//! Reading the daemon's SQLite ledger from the test, while the daemon runs or after it died:
//! one short connection per read (WAL lets it read beside the writer).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct Message {
    pub message_id: String,
    pub step: String,
    pub channel: String,
    pub recipient: String,
    pub address: Option<String>,
    pub state: String,
    pub attempts: i64,
    pub last_code: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct Attempt {
    /// `message.message_id` of the try.
    pub message_id: String,
    pub attempt: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub outcome: String,
    pub code: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct Occurrence {
    pub step: String,
    pub enqueued_at: Option<i64>,
    pub missed_at: Option<i64>,
}

async fn connect(db: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::new()
        .filename(db)
        .busy_timeout(Duration::from_secs(10));
    SqliteConnection::connect_with(&options)
        .await
        .unwrap_or_else(|e| panic!("opening {}: {e}", db.display()))
}

/// True once the daemon created the ledger and its tables.
pub async fn ready(db: &Path) -> bool {
    if !db.exists() {
        return false;
    }
    let mut c = connect(db).await;
    let n: Result<i64, _> = sqlx::query_scalar("SELECT COUNT(*) FROM message")
        .fetch_one(&mut c)
        .await;
    let _ = c.close().await;
    n.is_ok()
}

pub async fn messages(db: &Path) -> Vec<Message> {
    let mut c = connect(db).await;
    let rows = sqlx::query_as(
        "SELECT message_id, step, channel, recipient, address, state, attempts, last_code \
         FROM message ORDER BY id",
    )
    .fetch_all(&mut c)
    .await
    .expect("read messages");
    let _ = c.close().await;
    rows
}

pub async fn attempts(db: &Path) -> Vec<Attempt> {
    let mut c = connect(db).await;
    let rows = sqlx::query_as(
        "SELECT m.message_id, a.attempt, a.started_at, a.finished_at, a.outcome, a.code, \
         a.error, a.duration_ms FROM attempt a JOIN message m ON m.id = a.message_id \
         ORDER BY a.message_id, a.attempt",
    )
    .fetch_all(&mut c)
    .await
    .expect("read attempts");
    let _ = c.close().await;
    rows
}

pub async fn occurrences(db: &Path) -> Vec<Occurrence> {
    let mut c = connect(db).await;
    let rows = sqlx::query_as("SELECT step, enqueued_at, missed_at FROM occurrence ORDER BY id")
        .fetch_all(&mut c)
        .await
        .expect("read occurrences");
    let _ = c.close().await;
    rows
}

/// The rows leased now (`sending`): message id and lease owner.
pub async fn leased(db: &Path) -> Vec<(String, String)> {
    let mut c = connect(db).await;
    let rows = sqlx::query_as(
        "SELECT message_id, COALESCE(lease_owner, '') FROM message WHERE state = 'sending'",
    )
    .fetch_all(&mut c)
    .await
    .expect("read leases");
    let _ = c.close().await;
    rows
}

/// Message counts by state.
pub async fn counts(db: &Path) -> BTreeMap<String, i64> {
    let mut c = connect(db).await;
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM message GROUP BY state")
            .fetch_all(&mut c)
            .await
            .expect("count states");
    let _ = c.close().await;
    rows.into_iter().collect()
}

/// Rows not yet in a final state (`pending`, `sending`).
pub async fn open(db: &Path) -> i64 {
    let c = counts(db).await;
    c.get("pending").copied().unwrap_or(0) + c.get("sending").copied().unwrap_or(0)
}

/// Every `message_event.detail` that mentions `text`.
pub async fn events_mentioning(db: &Path, text: &str) -> Vec<String> {
    let mut c = connect(db).await;
    let rows = sqlx::query_scalar(
        "SELECT detail FROM message_event WHERE detail LIKE '%' || ? || '%' ORDER BY id",
    )
    .bind(text)
    .fetch_all(&mut c)
    .await
    .expect("read events");
    let _ = c.close().await;
    rows
}

/// The audit trail: (actor, action, campaign), oldest first.
pub async fn audit(db: &Path) -> Vec<(String, String, Option<String>)> {
    let mut c = connect(db).await;
    let rows = sqlx::query_as("SELECT actor, action, campaign FROM audit ORDER BY id")
        .fetch_all(&mut c)
        .await
        .expect("read the audit trail");
    let _ = c.close().await;
    rows
}
