//! The SQLite ledger's connections: opening and migrating it, the one writer and its turn
//! ([`Write`]), the readers beside it, and what a failed write leaves on record (see the
//! module docs of [`super`] for why it is built this way).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection as _, Sqlite, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use super::SqliteLedger;

/// Connections that read, beside the one that writes.
const READERS: u32 = 3;

/// A write transaction holding this process's writer turn; dropping it rolls back.
pub(crate) struct Write<'a> {
    pub(crate) tx: Transaction<'static, Sqlite>,
    _turn: MutexGuard<'a, ()>,
    store: &'a SqliteLedger,
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

impl SqliteLedger {
    /// Opens (creating the file on first use) and migrates the ledger at `url`,
    /// e.g. `sqlite://loa.db`.
    pub(crate) async fn open(url: &str) -> anyhow::Result<SqliteLedger> {
        let options = connect_options(url)?;
        let writes = writer(options.clone(), url).await?;
        sqlx::migrate!("migrations/sqlite")
            .run(&writes)
            .await
            .with_context(|| format!("migrating the message ledger {url:?}"))?;
        Ok(SqliteLedger {
            pool: readers(options, url).await?,
            writes,
            writer: Arc::new(Mutex::new(())),
            failure: Arc::default(),
        })
    }

    /// Refuses a `sqlite:` URL whose file does not exist (see [`crate::store::Store::open_existing`]).
    pub(crate) fn check_exists(url: &str) -> anyhow::Result<()> {
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
        Ok(())
    }

    /// Closes every connection, waiting for those in use; SQLite checkpoints the WAL when
    /// the last one closes. Later calls on any clone fail.
    pub(crate) async fn close(&self) {
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
    pub(crate) fn write_failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
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

/// The connection settings of every connection to the ledger at `url` (see the module
/// docs).
fn connect_options(url: &str) -> anyhow::Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)
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
        .pragma("wal_autocheckpoint", "10000"))
}

/// The one connection that writes.
async fn writer(options: SqliteConnectOptions, url: &str) -> anyhow::Result<SqlitePool> {
    SqlitePoolOptions::new()
        .max_connections(1)
        // The rollback of a dropped transaction is queued on the connection, and the
        // pool's ping before handing it out again waits for it; a connection then still
        // counting an open transaction (SQLite had rolled it back by itself, so the
        // rollback failed) is closed and a fresh one opened.
        .test_before_acquire(true)
        .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
        .connect_with(options)
        .await
        .with_context(|| format!("opening the message ledger {url:?}"))
}

/// The [`READERS`] connections that read.
async fn readers(options: SqliteConnectOptions, url: &str) -> anyhow::Result<SqlitePool> {
    // A read that walks millions of rows (`status`, `report`, the dashboard's counts)
    // takes seconds by nature: sqlx's slow-statement warning, with the whole SQL, is
    // for writes, which hold the ledger's one writer; slow reads log at debug.
    let reads = sqlx::ConnectOptions::log_slow_statements(
        options,
        log::LevelFilter::Debug,
        Duration::from_secs(1),
    );
    SqlitePoolOptions::new()
        .max_connections(READERS)
        .connect_with(reads)
        .await
        .with_context(|| format!("opening the message ledger {url:?}"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::test_support::*;

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
}

#[cfg(test)]
mod write_failure_tests {
    use crate::store::test_support::*;

    #[tokio::test]
    async fn a_transaction_sqlite_rolled_back_by_itself_does_not_wedge_the_writer() {
        let (_dir, store) = open().await;
        let occ = seed(&store).await;
        assert_eq!(store.write_failure(), None);
        // What SQLite does on its own when a commit finds the disk full or hits an I/O
        // error: the transaction is gone, the connection still counts it as open.
        let mut w = store.sqlite().write().await.unwrap();
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
            .execute(&store.sqlite().writes)
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
            .execute(&store.sqlite().writes)
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
