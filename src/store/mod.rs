//! The message ledger: one durable row per message, its state machine, its attempts and
//! every state change (SPEC §5–§6, reliability plan §8).
//!
//! `dispatch` claims due rows, sends them through a `channel` and records what happened;
//! the daemon's scheduler expands occurrences into rows; `cli status` / `report` read them.
//! This module owns the SQL and nothing else: it never reads the clock (every write takes
//! `now`, in UTC epoch milliseconds — [`Millis`]) and never decides a retry policy.
//!
//! Rules the rest of loa relies on:
//!
//! - **One row per (campaign, step, occurrence, recipient, channel), ever.** Inserting is
//!   `INSERT … ON CONFLICT DO NOTHING`, so expansion can be re-run after a crash.
//! - **Fencing.** [`Store::claim`] moves a row to `sending` and increments `attempts`; every
//!   later write about that try ([`Store::record`]) is conditional on
//!   `(id, attempts, lease_owner, state = 'sending')`, so a worker whose lease was rescued
//!   cannot overwrite the newer attempt. An owner name must be unique per process start.
//! - **Every state change is written with its time** to `message_event`, in the same
//!   transaction as the change. A message's birth is its row: `queued_at` and the state it
//!   was inserted in (`pending`, or `skipped` with the reason in `last_error`).
//! - **Progress comes from rows** ([`Store::open_count`]), never from a cursor.
//!
//! SQLite runs with WAL, `synchronous=FULL` (WAL with `NORMAL` "might roll back following a
//! power loss", SQLite `PRAGMA synchronous`), foreign keys on and a 5 s busy timeout. It has
//! one writer: writes in this process take turns on a mutex and open `BEGIN IMMEDIATE`
//! transactions on a connection of their own, so they queue instead of spinning in
//! SQLite's busy handler, each transaction stays short, and reads, however slow or many,
//! wait on their own pool of connections instead of taking the writer's. The SQL itself
//! stays portable to PostgreSQL (`ON CONFLICT`, `UPDATE … RETURNING`, integer times).
//!
//! A write that fails (disk full, a read-only file, an I/O error) never wedges the writer:
//! SQLite may roll such a transaction back by itself, leaving the connection's own count of
//! open transactions behind, so a connection still in a transaction when it comes back is
//! closed and the next write opens a fresh one. Why the last write failed to begin or to
//! commit stays readable ([`Store::write_failure`], for `/healthz`) until a write that
//! changed rows commits ([`Store::check_writable`] makes one).
//!
//! # Layout
//!
//! - `campaign`: [`Store::upsert_campaign`]
//! - `occurrence`: [`Store::occurrence`], [`Store::mark_enqueued`]
//! - `message`: inserting ([`Store::insert_messages`]) and claiming ([`Store::claim`])
//! - `attempt`: [`Store::record`], the outcome of one try, and the `attempt` rows
//! - `sweep`: state changes over many rows — rescue, release, expiry, cancel, retry
//! - `prune`: [`Store::prune_personal_data`], retention: personal data of messages that
//!   ended long ago cleared, the rows and their counts kept
//! - `event`: `message_event` rows, written by all of the above
//! - `read`: [`Store::status`], [`Store::report`], [`Store::open_count`], [`Store::next_due`]
//! - `health`: [`Store::ping`], [`Store::oldest_due`], [`Store::state_counts`] (for `web`)
//! - `receipt`: [`Store::apply_receipt`], provider delivery receipts, replay-safe by id
//! - `suppression`: [`Store::suppress`], [`Store::is_suppressed`], [`Store::suppressed_among`]
//! - `kv`: [`Store::kv_get`], [`Store::kv_put`]
//! - `pause`: [`Store::hold_campaign`], [`Store::release_campaign`],
//!   [`Store::held_campaigns`] — operator holds (the dashboard's pause)
//! - `overview`: what the dashboard reads — [`Store::occurrence_figures`],
//!   [`Store::campaign_breakdown`], [`Store::failed_messages`], [`Store::reached_by_recipient`]
//! - `audit`: [`Store::audit`], [`Store::audit_log`] — append-only (SQLite triggers)
//! - `values`: batches bound as `VALUES` lists (outcomes, attempts, events)
//! - `id`: [`message_tag`] and [`message_id`], the deterministic provider-facing id

mod attempt;
mod audit;
mod campaign;
mod event;
mod fallback;
mod health;
mod id;
mod kv;
mod message;
mod occurrence;
mod overview;
mod pause;
mod prune;
mod read;
mod receipt;
mod suppression;
mod sweep;
#[cfg(test)]
pub(crate) mod test_support;
mod values;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection as _, Sqlite, Transaction};
use tokio::sync::{Mutex, MutexGuard};

pub use audit::{AuditAction, AuditEntry, AuditRow};
pub use health::StateCount;
pub use id::{content_hash, message_id, message_row, message_tag};
pub use overview::{CampaignTotals, FailedMessage, OccurrenceFigures};
pub use prune::{PRUNE_BATCH, Pruned};
pub use receipt::{
    DeliveryReceipt, MessageRef, RECEIPT_SKEW, ReceiptOutcome, ReceiptStatus, delivery_time,
};
pub use suppression::{Suppression, SuppressionReason, UnsubscribeTarget};

/// A UTC instant in milliseconds since the Unix epoch.
pub type Millis = i64;

/// Every delivery state (SPEC §6), as stored in `message.state`; `replaced`: failed on its
/// channel, and the step's fallback took over (migration 0009).
pub const STATES: [&str; 9] = [
    "pending",
    "sending",
    "sent",
    "delivered",
    "failed",
    "expired",
    "skipped",
    "cancelled",
    "replaced",
];

/// States a message can still leave by itself; a campaign is done only when none remain.
pub const OPEN_STATES: [&str; 2] = ["pending", "sending"];

/// Connections that read, beside the one that writes.
const READERS: u32 = 3;

/// The message ledger. Cheap to clone: clones share one pool and one writer turn.
#[derive(Clone, Debug)]
pub struct Store {
    /// The connections that read.
    pool: SqlitePool,
    /// The one connection that writes, so that no number of slow reads (dashboard pages
    /// over millions of messages) can leave the dispatcher without a connection.
    writes: SqlitePool,
    /// Writes take turns here before `BEGIN IMMEDIATE` (see the module docs).
    writer: Arc<Mutex<()>>,
    /// Why the last write failed, until one succeeds.
    failure: Arc<std::sync::Mutex<Option<String>>>,
}

/// A campaign as loaded from its file; `loaded_at` is set by [`Store::upsert_campaign`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignRow {
    pub id: String,
    pub title: String,
    /// `draft`, `active`, `paused` or `done` (SPEC §3).
    pub status: String,
    pub content_hash: String,
    pub file: String,
}

/// One occurrence of a step; `enqueued_at` is set once all its messages are inserted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OccurrenceRow {
    pub id: i64,
    pub campaign: String,
    pub step: String,
    pub n: u32,
    pub at: Millis,
    pub enqueued_at: Option<Millis>,
    /// Set when the occurrence was recorded as missed instead of being sent.
    pub missed_at: Option<Millis>,
}

/// The state a message is born in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewState {
    Pending,
    /// No address, opted out, suppressed: recorded, never sent. `reason` lands in
    /// `last_error` (shown by `report`) and in the event.
    Skipped {
        reason: String,
    },
}

/// A message to insert; see [`Store::insert_messages`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    /// From [`message_tag`]; the message id is derived from it and the row id.
    pub tag: String,
    pub campaign: String,
    pub step: String,
    pub occurrence_id: i64,
    pub occurrence_at: Millis,
    pub occurrence_n: u32,
    pub recipient: String,
    pub channel: String,
    /// `message.id` of the row this one backs up.
    pub fallback_of: Option<i64>,
    pub address: Option<String>,
    pub state: NewState,
    pub next_attempt_at: Millis,
    /// End of the step's window: a message still pending then expires.
    pub expires_at: Millis,
    /// JSON snapshot of the recipient's row and joined rows, rendered at send time.
    pub context: String,
}

/// A message leased to one owner for one attempt; see [`Store::claim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub message_id: String,
    pub campaign: String,
    pub step: String,
    pub channel: String,
    pub recipient: String,
    pub address: Option<String>,
    /// The fencing token: pass it back in [`Outcome::attempt`].
    pub attempt: u32,
    pub occurrence_at: Millis,
    pub occurrence_n: u32,
    pub occurrence_id: i64,
    pub expires_at: Millis,
    pub context: String,
    pub fallback_of: Option<i64>,
}

/// What one claimed attempt came to; see [`Store::record`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub id: i64,
    /// [`Claimed::attempt`] of the claim this outcome belongs to.
    pub attempt: u32,
    /// The owner that claimed it.
    pub owner: String,
    pub started_at: Millis,
    pub duration_ms: i64,
    pub result: OutcomeKind,
}

/// The result of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutcomeKind {
    /// The provider accepted it (SMTP 250, HTTP 2xx with no error in the body).
    Sent { provider_id: Option<String> },
    /// A transient failure: back to `pending`, due again at `at`.
    Retry {
        at: Millis,
        code: Option<String>,
        error: String,
    },
    /// A permanent failure, or retries exhausted.
    Failed { code: Option<String>, error: String },
    /// Found at send time not to be sent (suppressed, no address); no try happened.
    Skipped { reason: String },
    /// Its window closed before it could go; no try happened.
    Expired,
}

impl OutcomeKind {
    /// This outcome with its error text or reason masked ([`crate::mask::mask_text`]) as
    /// the ledger keeps it; `None` when there was nothing to mask.
    fn masked(&self) -> Option<OutcomeKind> {
        let mask = |text: &str| match crate::mask::mask_text(text, "") {
            std::borrow::Cow::Owned(masked) => Some(masked),
            std::borrow::Cow::Borrowed(_) => None,
        };
        Some(match self {
            OutcomeKind::Retry { at, code, error } => OutcomeKind::Retry {
                at: *at,
                code: code.clone(),
                error: mask(error)?,
            },
            OutcomeKind::Failed { code, error } => OutcomeKind::Failed {
                code: code.clone(),
                error: mask(error)?,
            },
            OutcomeKind::Skipped { reason } => OutcomeKind::Skipped {
                reason: mask(reason)?,
            },
            OutcomeKind::Sent { .. } | OutcomeKind::Expired => return None,
        })
    }
}

impl NewState {
    /// [`OutcomeKind::masked`] for a skip reason.
    fn masked(&self) -> Option<NewState> {
        match self {
            NewState::Skipped { reason } => match crate::mask::mask_text(reason, "") {
                std::borrow::Cow::Owned(reason) => Some(NewState::Skipped { reason }),
                std::borrow::Cow::Borrowed(_) => None,
            },
            NewState::Pending => None,
        }
    }
}

/// Message counts of one (campaign, step, channel): every state of [`STATES`], zeros
/// included (SPEC §5 `status --format json`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRow {
    pub campaign: String,
    pub step: String,
    pub channel: String,
    pub counts: BTreeMap<String, u64>,
}

/// One message as `report` shows it: exactly the SPEC §5 CSV columns, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    pub campaign: String,
    pub step: String,
    pub occurrence_at: Millis,
    pub recipient: String,
    pub channel: String,
    pub address: Option<String>,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub queued_at: Millis,
    pub sent_at: Option<Millis>,
    pub delivered_at: Option<Millis>,
}

/// A write transaction holding this process's writer turn; dropping it rolls back.
pub(crate) struct Write<'a> {
    pub(crate) tx: Transaction<'static, Sqlite>,
    _turn: MutexGuard<'a, ()>,
    store: &'a Store,
    /// While a failed write is on record: the connection's count of changed rows when
    /// this one began, so that only a commit that wrote something clears the failure.
    changes_before: Option<i64>,
}

impl Write<'_> {
    pub(crate) async fn commit(mut self) -> anyhow::Result<()> {
        // A commit that changed no row writes nothing to the disk: it does not show that
        // the ledger can be written again.
        let wrote = match self.changes_before {
            None => true,
            Some(before) => total_changes(&mut self.tx).await.is_ok_and(|n| n > before),
        };
        let committed = self.tx.commit().await;
        match &committed {
            Err(e) => self.store.note_write(Some(e)),
            Ok(()) if wrote => self.store.note_write(None),
            Ok(()) => {}
        }
        committed.context("committing to the message ledger")
    }
}

/// Rows changed on the transaction's connection since it opened.
async fn total_changes(tx: &mut Transaction<'static, Sqlite>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT total_changes()")
        .fetch_one(&mut **tx)
        .await
}

impl Store {
    /// Opens (creating the file on first use) and migrates the ledger at `url`,
    /// e.g. `sqlite://loa.db`.
    pub async fn open(url: &str) -> anyhow::Result<Store> {
        if !url.starts_with("sqlite:") {
            anyhow::bail!(
                "cannot open the database URL {:?}: the ledger is SQLite for now \
                 (--database-url sqlite://loa.db); PostgreSQL is not supported yet",
                crate::channel::webhook::mask_url(url)
            );
        }
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("bad database URL {url:?}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // 8 MiB of page cache per connection (negative = KiB): four times the default,
            // while the four connections stay well inside the daemon's memory budget
            // (≤ 150 MiB).
            .pragma("cache_size", "-8192")
            // Checkpoint the WAL every 10,000 pages (40 MiB) instead of 1,000: a message row
            // is written at enqueue, at its claim and at its outcome, and a longer WAL lets
            // the checkpoint copy each such page once. About +12 % on bulk inserts here.
            .pragma("wal_autocheckpoint", "10000");
        let writes = SqlitePoolOptions::new()
            .max_connections(1)
            // The rollback of a dropped transaction is queued on the connection, and the
            // pool's ping before handing it out again waits for it; a connection then still
            // counting an open transaction (SQLite had rolled it back by itself, so the
            // rollback failed) is closed and a fresh one opened.
            .test_before_acquire(true)
            .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .connect_with(options.clone())
            .await
            .with_context(|| format!("opening the message ledger {url:?}"))?;
        sqlx::migrate!("migrations/sqlite")
            .run(&writes)
            .await
            .with_context(|| format!("migrating the message ledger {url:?}"))?;
        // A read that walks millions of rows (`status`, `report`, the dashboard's counts)
        // takes seconds by nature: sqlx's slow-statement warning, with the whole SQL, is
        // for writes, which hold the ledger's one writer; slow reads log at debug.
        let reads = sqlx::ConnectOptions::log_slow_statements(
            options,
            log::LevelFilter::Debug,
            Duration::from_secs(1),
        );
        let pool = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(reads)
            .await
            .with_context(|| format!("opening the message ledger {url:?}"))?;
        Ok(Store {
            pool,
            writes,
            writer: Arc::new(Mutex::new(())),
            failure: Arc::default(),
        })
    }

    /// Opens a ledger that must exist already, for the commands that read or repair one
    /// (`status`, `report`, `retry`): opening creates the file, which left an empty
    /// `loa.db` wherever they were run and then reported zero messages.
    pub async fn open_existing(url: &str) -> anyhow::Result<Store> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("bad database URL {url:?}"))?;
            let file = options.get_filename();
            if file != std::path::Path::new(":memory:") && !file.exists() {
                anyhow::bail!(
                    "there is no ledger at {}: `loa run` creates it; give the ledger you mean \
                     with --database-url sqlite://FILE (or LOA_DATABASE_URL)",
                    file.display()
                );
            }
        }
        Self::open(url).await
    }

    /// Closes every connection, waiting for those in use; SQLite checkpoints the WAL when
    /// the last one closes. Later calls on any clone fail.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writes.close().await;
    }

    /// Waits for this process's writer turn and begins an immediate transaction, which
    /// takes SQLite's write lock at once instead of failing to upgrade a read later.
    pub(crate) async fn write(&self) -> anyhow::Result<Write<'_>> {
        let turn = self.writer.lock().await;
        let begun = self.writes.begin_with("BEGIN IMMEDIATE").await;
        if let Err(e) = &begun {
            self.note_write(Some(e));
        }
        let mut tx = begun.context("beginning a write to the message ledger")?;
        let changes_before = match self.write_failure() {
            Some(_) => Some(total_changes(&mut tx).await.unwrap_or(i64::MAX)),
            None => None,
        };
        Ok(Write {
            tx,
            _turn: turn,
            store: self,
            changes_before,
        })
    }

    /// Why the last write to the ledger failed to begin or to commit (e.g. "database or
    /// disk is full (SQLite code 13)"), until a write that changed rows commits.
    pub fn write_failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// While a failed write is on record, tries a write of one row (`loa.write_check` in
    /// `kv`, the time): its success clears the record. The daemon calls it every round,
    /// so that a daemon with nothing else to write does not stay unhealthy once the
    /// ledger takes writes again. Does nothing otherwise.
    pub async fn check_writable(&self, now: Millis) {
        if self.write_failure().is_some() {
            // A failure is recorded by the write itself.
            let _ = self.kv_put("loa.write_check", &now.to_string(), now).await;
        }
    }

    /// Keeps the reason of a failed write, or forgets it after a success.
    fn note_write(&self, error: Option<&sqlx::Error>) {
        let reason = error.map(|e| match e {
            sqlx::Error::Database(db) => match db.code() {
                Some(code) => format!("{} (SQLite code {code})", db.message()),
                None => db.message().to_owned(),
            },
            other => other.to_string(),
        });
        *self
            .failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = reason;
    }

    /// The connections for reading (writes go through [`Store::write`]).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Checks that `state` is one of [`STATES`] before it reaches SQL.
fn known_state(state: &str) -> anyhow::Result<&str> {
    if STATES.contains(&state) {
        Ok(state)
    } else {
        anyhow::bail!(
            "unknown message state {state:?} (one of {})",
            STATES.join(", ")
        )
    }
}

/// A stored non-negative integer as `u32` (attempts, occurrence numbers).
fn to_u32(value: i64, what: &str) -> anyhow::Result<u32> {
    u32::try_from(value).with_context(|| format!("{what} out of range: {value}"))
}

/// A stored count as `u64`.
fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn millis(duration: Duration) -> Millis {
    Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::test_support::*;
    use super::*;

    #[tokio::test]
    async fn opening_creates_the_file_with_durable_settings() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&url(&dir)).await.unwrap();
        assert!(dir.path().join("loa.db").exists());
        let mut conn = store.pool().acquire().await.unwrap();
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!((journal.as_str(), synchronous, foreign_keys), ("wal", 2, 1));
    }

    #[tokio::test]
    async fn rebuilding_the_tables_for_cheaper_checks_keeps_every_row_and_every_rule() {
        // A ledger as the migrations before 0007 left it, with messages, their events and
        // attempts: the rebuild of `message` and `attempt` must not cascade to them.
        let dir = tempfile::tempdir().unwrap();
        ledger_before(
            &dir,
            "0007",
            &[
                "INSERT INTO campaign VALUES ('c', 't', 'active', 'h', 'c.yaml', 0)",
                "INSERT INTO occurrence (id, campaign, step, n, at) VALUES (1, 'c', 's', 0, 0)",
                "INSERT INTO message (tag, campaign, step, occurrence_id, occurrence_at, \
                 occurrence_n, recipient, channel, address, state, attempts, next_attempt_at, \
                 expires_at, context, queued_at, updated_at) VALUES \
                 ('00000000000000aa', 'c', 's', 1, 0, 0, 'r1', 'email', 'a@x.vn', 'sent', 1, \
                  0, 9, '{}', 0, 5), \
                 ('00000000000000bb', 'c', 's', 1, 0, 0, 'r2', 'email', 'b@x.vn', 'pending', 0, \
                  0, 9, '{}', 0, 0)",
                "INSERT INTO attempt (message_id, attempt, started_at, finished_at, outcome, \
                 duration_ms) VALUES (1, 1, 1, 3, 'sent', 2)",
                "INSERT INTO message_event (message, at, from_state, to_state) VALUES \
                 (1, 1, 'pending', 'sending'), (1, 3, 'sending', 'sent')",
            ],
        )
        .await;
        let store = Store::open(&url(&dir)).await.unwrap();
        let counted = |sql| count(&store, sql);
        assert_eq!(counted("SELECT COUNT(*) FROM message").await, 2);
        assert_eq!(counted("SELECT COUNT(*) FROM attempt").await, 1);
        assert_eq!(counted("SELECT COUNT(*) FROM message_event").await, 2);
        let ids: Vec<String> = message_ids(&store).await;
        assert_eq!(ids, ["m1-00000000000000aa", "m2-00000000000000bb"]);
        assert_eq!(events(&store, 1).await.len(), 2);
        let mut conn = store.pool().acquire().await.unwrap();
        let (foreign_keys, broken): (i64, Vec<(String,)>) = (
            sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut *conn)
                .await
                .unwrap(),
            sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
                .fetch_all(&mut *conn)
                .await
                .unwrap(),
        );
        assert_eq!((foreign_keys, broken), (1, vec![]));
        let checks: Vec<String> = sqlx::query_scalar(
            "SELECT sql FROM sqlite_schema WHERE name IN ('message', 'attempt') ORDER BY name",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        assert!(checks[0].contains("outcome = 'sent' OR"), "{}", checks[0]);
        assert!(checks[1].contains("state = 'pending' OR"), "{}", checks[1]);
        // The rules hold as before: no unknown state or outcome, and deleting a message
        // still takes its attempts and events with it.
        let refused = |sql: &'static str| {
            let pool = store.pool().clone();
            async move { sqlx::query(sql).execute(&pool).await.is_err() }
        };
        assert!(refused("UPDATE message SET state = 'lost' WHERE id = 2").await);
        assert!(
            refused(
                "INSERT INTO attempt (message_id, attempt, started_at, finished_at, outcome, \
                 duration_ms) VALUES (2, 1, 1, 3, 'maybe', 2)"
            )
            .await
        );
        assert!(!refused("UPDATE message SET state = 'cancelled' WHERE id = 2").await);
        sqlx::query("DELETE FROM message WHERE id = 1")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(counted("SELECT COUNT(*) FROM attempt").await, 0);
        assert_eq!(counted("SELECT COUNT(*) FROM message_event").await, 0);
    }

    #[tokio::test]
    async fn writes_go_on_while_every_reading_connection_is_taken() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        // Slow dashboard pages or scrapes holding every connection the pool hands out,
        // each in the middle of a read.
        let max = store.pool().options().get_max_connections();
        let mut readers = Vec::new();
        for _ in 0..max {
            let mut conn = store.pool().acquire().await.unwrap();
            sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM message")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(n, 0);
            readers.push(conn);
        }
        let rows = messages(&occ, 3);
        let written =
            tokio::time::timeout(Duration::from_secs(5), store.insert_messages(&rows, T0))
                .await
                .expect("the write waited for the readers")
                .unwrap();
        assert_eq!(written, 3);
        let claimed = tokio::time::timeout(
            Duration::from_secs(5),
            store.claim("w", T0, Duration::from_secs(60), 3, &[]),
        )
        .await
        .expect("the claim waited for the readers")
        .unwrap();
        assert_eq!(claimed.len(), 3);
        drop(readers);
    }

    #[tokio::test]
    async fn reopening_the_file_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(&url(&dir)).await.unwrap();
        let occ = seed(&first).await;
        insert(&first, &occ, 10).await;
        let claimed = first
            .claim("w", T0, Duration::from_secs(75), 4, &[])
            .await
            .unwrap();
        let outcomes: Vec<Outcome> = claimed
            .iter()
            .map(|c| Outcome {
                id: c.id,
                attempt: c.attempt,
                owner: "w".into(),
                started_at: T0,
                duration_ms: 3,
                result: OutcomeKind::Sent { provider_id: None },
            })
            .collect();
        first.record(&outcomes[..3], T0 + 5).await.unwrap();
        first
            .kv_put("zalo.refresh_token", "secret-1", T0)
            .await
            .unwrap();
        let status = first.status(None).await.unwrap();
        let report = first.report("c").await.unwrap();
        first.close().await;

        let second = Store::open(&url(&dir)).await.unwrap();
        assert_eq!(second.status(None).await.unwrap(), status);
        assert_eq!(second.report("c").await.unwrap(), report);
        assert_eq!(second.open_count("c").await.unwrap(), 7);
        assert_eq!(
            second
                .kv_get("zalo.refresh_token")
                .await
                .unwrap()
                .as_deref(),
            Some("secret-1")
        );
        assert_eq!(second.occurrence("c", "s", 0, T0 + 1).await.unwrap(), occ);
        assert_eq!(
            second
                .insert_messages(&messages(&occ, 10), T0)
                .await
                .unwrap(),
            0
        );
        assert_events_complete(&second).await;
        // The lease still held survives too, and its fence with it.
        let late = Outcome {
            id: claimed[3].id,
            attempt: 1,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 1,
            result: OutcomeKind::Sent { provider_id: None },
        };
        assert_eq!(second.record(&[late], T0 + 10).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_bad_url_is_an_error_naming_it() {
        let err = Store::open("mysql://nowhere").await.unwrap_err();
        assert!(format!("{err:#}").contains("mysql://nowhere"));
    }

    #[tokio::test]
    async fn a_url_that_is_not_sqlite_is_refused_by_name_without_its_password() {
        let err = Store::open("postgres://loa:hunter2@127.0.0.1/loa")
            .await
            .expect_err("refused");
        let text = format!("{err:#}");
        assert!(
            text.contains("postgres://loa:%5BREDACTED%5D@127.0.0.1/loa")
                && text.contains("sqlite://loa.db"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        let err = Store::open("postgres://127.0.0.1/loa?password=hunter2")
            .await
            .expect_err("refused");
        assert!(!format!("{err:#}").contains("hunter2"), "{err:#}");
    }
}

#[cfg(test)]
mod write_failure_tests {
    use super::test_support::*;

    #[tokio::test]
    async fn a_transaction_sqlite_rolled_back_by_itself_does_not_wedge_the_writer() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        assert_eq!(store.write_failure(), None);
        // What SQLite does on its own when a commit finds the disk full or hits an I/O
        // error: the transaction is gone, the connection still counts it as open.
        let mut w = store.write().await.unwrap();
        sqlx::query("ROLLBACK").execute(&mut *w.tx).await.unwrap();
        let err = w.commit().await.expect_err("nothing left to commit");
        assert!(
            format!("{err:#}").contains("no transaction is active"),
            "{err:#}"
        );
        let failure = store.write_failure().expect("the failure is kept");
        assert!(failure.contains("no transaction is active"), "{failure}");
        // The next write takes a connection that is not in a transaction.
        // A write that changes nothing writes nothing to the disk: it proves nothing.
        assert_eq!(store.rescue_expired(T0, 3).await.unwrap(), 0);
        assert!(store.write_failure().is_some());
        let written = store.insert_messages(&messages(&occ, 3), T0).await;
        assert_eq!(written.map_err(|e| format!("{e:#}")), Ok(3));
        assert_eq!(store.write_failure(), None);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM message").await, 3);
    }

    #[tokio::test]
    async fn a_ledger_that_refuses_writes_is_reported_until_a_write_goes_through() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        // The writer connection alone, as a read-only file would have it.
        sqlx::query("PRAGMA query_only = 1")
            .execute(&store.writes)
            .await
            .unwrap();
        let err = store
            .insert_messages(&messages(&occ, 3), T0)
            .await
            .expect_err("read-only");
        assert!(format!("{err:#}").contains("readonly"), "{err:#}");
        assert_eq!(
            store.write_failure().as_deref(),
            Some("attempt to write a readonly database (SQLite code 8)")
        );
        // Reads go on meanwhile.
        store.ping().await.unwrap();
        store.check_writable(T0).await;
        assert!(store.write_failure().is_some());
        sqlx::query("PRAGMA query_only = 0")
            .execute(&store.writes)
            .await
            .unwrap();
        // With nothing else to write, the check finds the ledger writable again.
        store.check_writable(T0).await;
        assert_eq!(store.write_failure(), None);
        assert_eq!(
            store.insert_messages(&messages(&occ, 3), T0).await.unwrap(),
            3
        );
        assert_eq!(store.write_failure(), None);
    }
}
