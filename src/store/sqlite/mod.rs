//! The ledger on SQLite: one file, one writer (the default backend, `sqlite://loa.db`).
//!
//! SQLite runs with WAL, `synchronous=FULL` (WAL with `NORMAL` "might roll back following a
//! power loss", SQLite `PRAGMA synchronous`), foreign keys on and a 5 s busy timeout. It has
//! one writer: writes in this process take turns on a mutex and open `BEGIN IMMEDIATE`
//! transactions on a connection of their own, so they queue instead of spinning in
//! SQLite's busy handler, each transaction stays short, and reads, however slow or many,
//! wait on their own pool of connections instead of taking the writer's.
//!
//! The SQL here is SQLite's: `STRICT` tables, `json_each` and `json_group_array` batches,
//! `VALUES` lists joined by column name (`column1`…), the unary `+` that steers SQLite's
//! planner off an index, partial indexes the queries name by their literal state, and
//! migrations (`migrations/sqlite/`) that rebuild a table to change a CHECK. The same
//! contract on PostgreSQL is [`super::postgres`], file for file.
//!
//! A write that fails (disk full, a read-only file, an I/O error) never wedges the writer:
//! SQLite may roll such a transaction back by itself, leaving the connection's own count of
//! open transactions behind, so a connection still in a transaction when it comes back is
//! closed and the next write opens a fresh one. Why the last write failed to begin or to
//! commit stays readable ([`SqliteLedger::write_failure`], for `/healthz`) until a write
//! that changed rows commits ([`SqliteLedger::check_writable`] makes one).
//!
//! # Layout
//!
//! Each file implements the [`crate::store::Store`] methods its name says (see the layout of
//! [`super`]) on [`SqliteLedger`]; besides them:
//!
//! - `connection`: opening and migrating, the writer's turn ([`SqliteLedger::write`]) and
//!   the readers
//! - `event`: `message_event` rows, written by all the state changes
//! - `fallback`: the step's fallback taking over a recipient, inside `record`
//! - `values`: batches bound as `VALUES` lists (outcomes, attempts, events)

mod account;
mod approval;
mod attempt;
mod audit;
mod campaign;
mod connection;
mod event;
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
mod values;

use std::sync::Arc;

use sqlx::sqlite::SqlitePool;
use tokio::sync::Mutex;

/// The SQLite ledger. Cheap to clone: clones share one pool and one writer turn.
#[derive(Clone, Debug)]
pub(crate) struct SqliteLedger {
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
