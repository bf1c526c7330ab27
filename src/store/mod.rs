//! The message ledger: one durable row per message, its state machine, its attempts and
//! every state change (docs/delivery.md, docs/reliability.md#ledger-rules).
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
//! # Backends
//!
//! The contract above is [`Store`]'s; two backends keep it, chosen by the URL scheme in
//! [`Store::open`] and kept behind the private `Ledger` enum, each public method a `match`
//! over it:
//!
//! - `sqlite` (`sqlite://loa.db`, the default): one file, one writer in this process,
//!   SQLite's own SQL (`json_each` batches, planner hints, `BEGIN IMMEDIATE`); its module
//!   docs say why.
//! - `postgres` (`postgres://…`): one database shared by several daemons, claims with
//!   `FOR UPDATE SKIP LOCKED`, batches bound as arrays (`UNNEST`), with the same file names
//!   as `sqlite`. Every method is there and the store's tests run on it (`conformance`),
//!   but [`Store::open`] still refuses PostgreSQL URLs: only those tests open one
//!   (`Store::open_postgres`) until the daemon's own tests run on it too.
//!
//! What does not depend on the backend stays here: the public types below, [`MessageState`]
//! (`state`), the message ids (`id`), the masking of stored texts, and how an outcome
//! moves a message (`outcome`). One migration set per backend (`migrations/sqlite/`,
//! `migrations/postgres/`), kept in step by `tests/it/store_schema_parity.rs`.
//!
//! # Layout
//!
//! - `open`: [`Store::open`] and the choice of backend, [`Store::close`],
//!   [`Store::write_failure`]
//! - `contract`: every other public method of [`Store`], each dispatched to its backend
//! - `state`: [`MessageState`], the states of `message.state`, checked against the
//!   table's CHECK constraint
//! - `outcome`: what an attempt's outcome writes — the new state, the `attempt` row, the
//!   event — the same on both backends
//! - `overview`: the dashboard's figures, counted from the rows either backend reads
//! - `receipt`: delivery receipts — their types and rules (what moves, which time is
//!   believed, how an early one waits)
//! - `account`: [`AccountRow`], [`AccountError`] — staff accounts, their roles and password
//!   hashes (issue 17)
//! - `approval`: [`VersionApproval`], [`ApprovalStep`], [`ApprovalError`] — four-eyes
//!   approval of each version of a campaign, counted from either backend's rows (issue 17)
//! - `id`: [`message_tag`] and [`message_id`], the deterministic provider-facing id
//! - `types`: the public types of the smaller tables (audit, suppressions, retention,
//!   health counts)
//! - `sqlite`, `postgres`: the backends, one file per table or concern:
//!   - `campaign`: [`Store::upsert_campaign`]
//!   - `occurrence`: [`Store::occurrence`], [`Store::mark_enqueued`]
//!   - `message`: inserting ([`Store::insert_messages`]) and claiming ([`Store::claim`])
//!   - `attempt`: [`Store::record`], the outcome of one try, and the `attempt` rows
//!   - `sweep`: state changes over many rows — rescue, release, expiry, cancel, retry
//!   - `prune`: [`Store::prune_personal_data`], retention: personal data of messages that
//!     ended long ago cleared, the rows and their counts kept
//!   - `fallback`: the step's fallback taking a recipient over, inside `record`
//!   - `connection`: opening, migrating, the write transactions
//!   - `event` (SQLite): `message_event` rows, written by all of the above; PostgreSQL
//!     writes them in the statement that makes the change
//!   - `read`: [`Store::status`], [`Store::report`], [`Store::open_count`],
//!     [`Store::next_due`]
//!   - `health`: [`Store::ping`], [`Store::oldest_due`], [`Store::state_counts`] (for `web`)
//!   - `receipt`: [`Store::apply_receipt`], provider delivery receipts, replay-safe by id
//!   - `suppression`: [`Store::suppress`], [`Store::is_suppressed`],
//!     [`Store::suppressed_among`]
//!   - `kv`: [`Store::kv_get`], [`Store::kv_put`]
//!   - `pause`: [`Store::hold_campaign`], [`Store::release_campaign`],
//!     [`Store::held_campaigns`] — operator holds (the dashboard's pause)
//!   - `overview`: what the dashboard reads — [`Store::occurrence_figures`],
//!     [`Store::campaign_breakdown`], [`Store::failed_messages`],
//!     [`Store::reached_by_recipient`]
//!   - `audit`: [`Store::audit`], [`Store::audit_log`] — append-only (triggers)
//!   - `account`: [`Store::add_account`], [`Store::account`], [`Store::accounts`] — staff
//!     accounts
//!   - `approval`: the rows behind [`Store::request_approval`], [`Store::approve`],
//!     [`Store::version_approval`], [`Store::last_approved`]
//! - `conformance` (tests only): the store's tests, each run on both backends
//! - `test_support` (tests only): a fresh ledger per backend, seeded rows, checks

mod account;
mod approval;
#[cfg(test)]
mod conformance;
mod contract;
mod id;
mod open;
mod outcome;
mod overview;
mod receipt;
// Reached only through `Store::open_postgres` (tests) until `Store::open` takes it.
#[cfg_attr(not(test), allow(dead_code))]
mod postgres;
mod sqlite;
mod state;
#[cfg(test)]
pub(crate) mod test_support;
mod types;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;

pub use account::{AccountError, AccountRow};
pub use approval::{ApprovalError, ApprovalStep, VersionApproval};
pub(crate) use id::message_row;
pub use id::{content_hash, message_id, message_tag};
use open::Ledger;
pub(crate) use overview::{CampaignTotals, FailedMessage, OccurrenceFigures};
pub(crate) use receipt::{DeliveryReceipt, MessageRef, ReceiptOutcome};
pub use receipt::{ReceiptStatus, delivery_time};
pub use state::MessageState;
pub(crate) use types::{
    AuditAction, AuditEntry, AuditRow, PRUNE_BATCH, Pruned, StateCount, Suppression,
    SuppressionReason, UnsubscribeTarget,
};

/// A UTC instant in milliseconds since the Unix epoch.
pub(crate) type Millis = i64;

/// The message ledger, on the backend its URL names (see the module docs). Cheap to
/// clone: clones share the backend's connections.
#[derive(Clone, Debug)]
pub struct Store {
    ledger: Ledger,
}

/// A campaign as loaded from its file; `loaded_at` is set by [`Store::upsert_campaign`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignRow {
    pub id: String,
    pub title: String,
    /// `draft`, `active`, `paused` or `done` (docs/campaign-file.md#status).
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
    /// Claimed but never tried: too little of its lease was left when its turn came (the
    /// channel was slow). Back to `pending` as it was, the attempt given back, as
    /// [`Store::release`] does.
    Released,
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
            OutcomeKind::Sent { .. } | OutcomeKind::Expired | OutcomeKind::Released => return None,
        })
    }
}

impl NewState {
    /// The state a row is inserted in, and the skip reason for its `last_error`.
    fn state_and_reason(&self) -> (MessageState, Option<&str>) {
        match self {
            NewState::Pending => (MessageState::Pending, None),
            NewState::Skipped { reason } => (MessageState::Skipped, Some(reason.as_str())),
        }
    }

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

/// Message counts of one (campaign, step, channel): every state of [`MessageState::ALL`],
/// zeros included (`status --format json`, docs/cli.md#status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRow {
    pub campaign: String,
    pub step: String,
    pub channel: String,
    pub counts: BTreeMap<String, u64>,
}

/// One message as `report` shows it: exactly the CSV columns of docs/cli.md#report, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    pub campaign: String,
    pub step: String,
    pub occurrence_at: Millis,
    pub recipient: String,
    pub channel: String,
    pub address: Option<String>,
    pub state: MessageState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub queued_at: Millis,
    pub sent_at: Option<Millis>,
    pub delivered_at: Option<Millis>,
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
}
