//! The ledger on PostgreSQL: one database shared by several daemons (`postgres://…`).
//!
//! The same contract as [`super::sqlite`], file for file, done the way the job queues
//! built on PostgreSQL do it (River, Oban, graphile-worker, Solid Queue):
//!
//! - **Claims** choose due rows with `FOR UPDATE SKIP LOCKED` in a CTE and lease them with
//!   `UPDATE … RETURNING`, so two daemons claiming at once never take the same message and
//!   never wait on each other's rows.
//! - **Fencing** is SQLite's: every write about a try is conditional on `(id, attempts,
//!   lease_owner, state = 'sending')`.
//! - **Batches** (enqueue, outcomes, events) are bound as one array per column and read
//!   with `UNNEST`: one statement and one round trip a batch, whatever its size, and a
//!   handful of statement texts each prepared once per connection.
//! - **Exactly once across daemons**: an occurrence is created by `INSERT … ON CONFLICT
//!   DO NOTHING` on its natural key, messages likewise. The housekeeping sweeps (rescue,
//!   release, expiry) take their rows `FOR UPDATE SKIP LOCKED`, safe on every daemon at
//!   once. What SQLite's one writer made atomic by itself is locked here: a receipt reads
//!   its message `FOR UPDATE`, a step's fallback is decided under an advisory lock on its
//!   recipient.
//!
//! Text is ordered byte by byte (`COLLATE "C"`), as SQLite orders it, so that `report`
//! and the dashboard list rows in the same order on both backends whatever the database's
//! locale.
//!
//! PostgreSQL has real concurrent writers, so there is no writer turn as on SQLite: each
//! write is a short transaction on a pooled connection. A write the server refuses (gone,
//! read-only, disk full) is kept for `/healthz` ([`PgLedger::write_failure`]) until a
//! write that changed rows commits, as on SQLite.
//!
//! # Layout
//!
//! Each file implements the [`super::Store`] methods its name says on [`PgLedger`];
//! besides them, `connection` opens and migrates the database (and avoids TCP for a local
//! server, see there) and `fallback` decides a step's fallback inside `record`. There is no
//! `event`: each change inserts its `message_event` rows in its own statement.

mod account;
mod approval;
mod attempt;
mod audit;
mod campaign;
mod connection;
mod fallback;
mod health;
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

use std::sync::Arc;

use sqlx::PgPool;

/// The PostgreSQL ledger. Cheap to clone: clones share one pool.
#[derive(Clone, Debug)]
pub(crate) struct PgLedger {
    pool: PgPool,
    /// Why the last write failed, until one that changed rows commits.
    failure: Arc<std::sync::Mutex<Option<String>>>,
}
